"""The consumer loop against a real JetStream and a real Postgres: ack, inbox, nak/backoff, DLQ."""

from __future__ import annotations

from typing import Any

import pytest

from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import subject_of
from praxis_servicekit.consumer import Consumer, PermanentError, Subscription
from praxis_servicekit.db import SqlUnitOfWork
from praxis_servicekit.logs import correlation_id
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_happy_path_commits_the_effect_with_the_inbox_row_and_acks(lane: Any, store: Any, consumers: Any) -> None:
    seen_correlation: list[str | None] = []

    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        seen_correlation.append(correlation_id.get())
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run)
    msg = lane.end_run("run-happy", correlation_id="run-happy")
    await lane.publish(msg)

    await wait_for(lambda: consumer.outcomes == ["ok"], timeout=10, message="the message to be handled")
    await consumers.idle(consumer)  # acked: nothing pending, nothing awaiting an ack
    assert await store.notes() == ["run-happy"]
    inbox = store.inbox
    assert await store.count(inbox, inbox.c.message_id == msg.message_id, inbox.c.consumer == consumer.durable) == 1
    assert seen_correlation == ["run-happy"]  # logs of the handler carry the run's correlation id


async def test_a_redelivered_message_has_exactly_one_effect(lane: Any, store: Any, consumers: Any) -> None:
    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run)
    msg = lane.end_run("run-twice")
    # Two copies of one message in the stream: different Nats-Msg-Ids get past JetStream's duplicate window,
    # as a copy published after the window (or by a second publisher) would.
    await lane.publish(msg, msg_id="copy-1")
    await lane.publish(msg, msg_id="copy-2")
    assert await lane.stream_messages() == 2

    await wait_for(lambda: consumer.outcomes == ["ok", "duplicate"], timeout=10, message="both copies handled")
    await consumers.idle(consumer)  # the duplicate is acked too, not left to be redelivered
    assert await store.notes() == ["run-twice"]
    assert await store.count(store.inbox, store.inbox.c.message_id == msg.message_id) == 1


async def test_invalid_payloads_are_dead_lettered_with_their_cause_and_the_consumer_goes_on(
    lane: Any, store: Any, consumers: Any
) -> None:
    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run)
    subject = subject_of(EndRun, bench_id=lane.bench)
    await lane.publish_raw(b"{not json")
    await lane.publish_raw(f'{{"bench_id": "{lane.bench}"}}'.encode())  # valid JSON, but run_id is missing
    await lane.publish(lane.end_run("run-after-the-bad-ones"))

    await wait_for(lambda: consumer.outcomes == ["invalid", "invalid", "ok"], timeout=10, message="3 messages")
    await consumers.idle(consumer)  # the invalid ones are terminated, not redelivered
    assert await store.notes() == ["run-after-the-bad-ones"]

    letters = await lane.dead_letters()
    assert [letter.original_subject for letter in letters] == [subject, subject]
    bad_json, missing_field = letters
    assert bad_json.payload == "{not json"
    assert bad_json.service == lane.service
    assert "invalid message" in bad_json.error and "json" in bad_json.error.lower()
    assert "run_id" in missing_field.error and "Field required" in missing_field.error
    assert bad_json.num_delivered == 1


async def test_a_message_on_an_unknown_subject_is_dead_lettered(lane: Any, store: Any, consumers: Any) -> None:
    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run, subject=f"praxis.bench.{lane.bench}.>")
    unknown = f"praxis.bench.{lane.bench}.cmd.no_such_command.v1"
    await lane.publish_raw(b"{}", subject=unknown)

    await wait_for(lambda: consumer.outcomes == ["invalid"], timeout=10)
    (letter,) = await lane.dead_letters()
    assert letter.original_subject == unknown
    assert "no message class" in letter.error


async def test_a_transient_failure_is_retried_and_then_succeeds(lane: Any, store: Any, consumers: Any) -> None:
    attempts = 0

    async def flaky(msg: EndRun, uow: SqlUnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        await store.add_effect(uow, msg.message_id, f"attempt {attempts}")
        if attempts == 1:
            raise ConnectionError("the bench did not answer")

    consumer = await consumers.start(flaky, backoff_s=(0.05,))
    await lane.publish(lane.end_run())

    await wait_for(lambda: consumer.outcomes == ["retried", "ok"], timeout=10, message="a retry, then success")
    await consumers.idle(consumer)
    assert await store.notes() == ["attempt 2"]  # the failed attempt's write was rolled back with its inbox row
    assert await lane.dead_letters() == []


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_deliver(
    lane: Any, store: Any, consumers: Any
) -> None:
    async def broken(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, "never committed")
        raise RuntimeError("boom")

    consumer = await consumers.start(broken, max_deliver=3, backoff_s=(0.05, 0.1))
    msg = lane.end_run("run-doomed")
    await lane.publish(msg)

    await wait_for(
        lambda: consumer.outcomes == ["retried", "retried", "dead_lettered"], timeout=15, message="3 deliveries"
    )
    await consumers.idle(consumer)  # terminated: JetStream will not deliver it a 4th time
    (letter,) = await lane.dead_letters()
    assert letter.num_delivered == 3
    assert "failed 3 times" in letter.error and "RuntimeError('boom')" in letter.error
    assert EndRun.model_validate_json(letter.payload) == msg
    assert await store.count(store.effects) == 0
    assert await store.count(store.inbox) == 0


async def test_a_permanent_error_is_dead_lettered_at_once(lane: Any, store: Any, consumers: Any) -> None:
    async def refuses(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, "never committed")
        raise PermanentError(f"unknown run {msg.run_id}")

    consumer = await consumers.start(refuses, max_deliver=5)
    await lane.publish(lane.end_run("run-unknown"))

    await wait_for(lambda: consumer.outcomes == ["dead_lettered"], timeout=10)
    await consumers.idle(consumer)
    (letter,) = await lane.dead_letters()
    assert letter.num_delivered == 1
    assert letter.error == "permanent failure: unknown run run-unknown"
    assert await store.count(store.effects) == 0


async def test_without_a_database_the_handler_gets_no_unit_of_work(lane: Any, consumers: Any) -> None:
    seen: list[Any] = []

    async def end_run(msg: EndRun, uow: Any) -> None:
        seen.append((msg.run_id, uow))

    consumer = await consumers.start(end_run, with_db=False)
    await lane.publish(lane.end_run("run-agent"))
    await wait_for(lambda: consumer.outcomes == ["ok"], timeout=10)
    assert seen == [("run-agent", None)]


async def test_a_message_that_cannot_be_settled_does_not_stop_the_consumer(
    lane: Any, store: Any, consumers: Any
) -> None:
    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run, ack_wait_s=1.0)
    real_dead_letter = consumer.dead_letter
    failures = []

    async def dead_letter_fails_once(msg: Any, error: str) -> None:
        if not failures:
            failures.append(error)
            raise ConnectionError("NATS went away while dead-lettering")
        await real_dead_letter(msg, error)

    consumer.dead_letter = dead_letter_fails_once  # type: ignore[method-assign]
    await lane.publish_raw(b"garbage")
    await lane.publish(lane.end_run("run-next"))

    # The garbage could not be settled (no outcome); the loop went on, and after ack_wait it came back.
    await wait_for(lambda: consumer.outcomes == ["ok", "invalid"], timeout=15, message="the redelivered garbage")
    await consumers.idle(consumer)
    assert len(failures) == 1
    assert [letter.payload for letter in await lane.dead_letters()] == ["garbage"]
    assert await store.notes() == ["run-next"]


async def test_subscribe_updates_an_existing_durable_to_the_subscription(lane: Any, js: Any) -> None:
    async def handler(msg: EndRun, uow: Any) -> None:
        return None

    def consumer(max_deliver: int) -> Consumer:
        sub = Subscription(
            EndRun,
            handler,
            durable=f"{lane.service}-cfg",
            subject=subject_of(EndRun, bench_id=lane.bench),
            max_deliver=max_deliver,
            ack_wait_s=7.0,
        )
        return Consumer(js, sub, service=lane.service, uow_factory=None)

    await consumer(5).subscribe()
    await consumer(2).subscribe()  # e.g. PRAXIS_CONSUMER_MAX_DELIVER changed between two boots
    info = await js.consumer_info(lane.stream, f"{lane.service}-cfg")
    assert info.config.max_deliver == 2  # else JetStream would stop redelivering before we dead-letter
    assert info.config.ack_wait == 7.0
