"""The consumer loop against a real JetStream and a real Postgres: ack, inbox, nak/backoff, DLQ, versions."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from praxis_contracts.base import Command
from praxis_contracts.hardware import BenchHeartbeat, EndRun
from praxis_contracts.registry import encode, subject_of
from praxis_servicekit.consumer import PermanentError, Subscription
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


async def test_a_failing_dependency_is_waited_out_without_spending_the_budget_of_a_bug(
    lane: Any, store: Any, consumers: Any
) -> None:
    attempts = 0

    async def handler(msg: EndRun, uow: SqlUnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 4:  # more deliveries than max_deliver allows a bug: an outage is never dead-lettered
            raise ConnectionRefusedError(111, "Postgres is restarting")
        raise RuntimeError("boom")

    consumer = await consumers.start(
        handler, max_deliver=2, backoff_s=(0.05,), outage_backoff_s=0.02, outage_backoff_max_s=0.05
    )
    await lane.publish(lane.end_run("run-outage-then-bug"))

    expected = ["retried"] * 5 + ["dead_lettered"]
    await wait_for(lambda: consumer.outcomes == expected, timeout=15, message="4 outage retries, then 2 bug failures")
    await consumers.idle(consumer)
    (letter,) = await lane.dead_letters()
    assert "failed 2 times" in letter.error and "RuntimeError('boom')" in letter.error
    assert letter.num_delivered == 6


async def test_an_old_durable_is_updated_in_place_and_unknown_versions_are_dead_lettered(
    work_lane: Any, js: Any, store: Any, work_consumers: Any
) -> None:
    v1 = subject_of(EndRun, bench_id=work_lane.bench)
    v2 = v1.removesuffix(".v1") + ".v2"
    durable = f"{work_lane.service}-end-run"
    # What an earlier release created: the exact v1 filter, and a server-side max_deliver.
    old = ConsumerConfig(
        name=durable, durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=v1, max_deliver=5
    )
    await js.add_consumer(work_lane.stream, old)
    await work_lane.publish_raw(lane_payload(work_lane.bench, "run-v2"), subject=v2)  # the old filter ignores it
    await work_lane.publish(work_lane.end_run("run-v1"))
    handled: list[str] = []

    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        handled.append(msg.run_id)

    consumer = await work_consumers.start(end_run, durable=durable, ack_wait_s=7.0)

    info = await js.consumer_info(work_lane.stream, durable)
    assert info.config.filter_subject == v1.removesuffix(".v1") + ".*"
    assert info.config.max_deliver == -1  # the server never stops redelivering on its own; the consumer counts
    assert info.config.ack_wait == 7.0
    await wait_for(lambda: sorted(consumer.outcomes) == ["invalid", "ok"], timeout=10, message="both versions")
    await work_consumers.idle(consumer)
    assert handled == ["run-v1"]
    assert await work_lane.stream_messages() == 0  # nothing sits in the work queue for good
    (letter,) = await work_lane.dead_letters()
    assert letter.original_subject == v2
    assert letter.error.startswith(f"unknown version: {v2} is not handled by {durable}")


class EndRunV2(Command):
    """A second version of EndRun (a test's own: the registry does not know it)."""

    subject: ClassVar[str] = "praxis.bench.{bench_id}.cmd.end_run.v2"

    bench_id: str
    run_id: str
    reason: str


async def test_two_versions_share_one_consumer_that_dispatches_by_subject(
    work_lane: Any, js: Any, store: Any, work_consumers: Any
) -> None:
    handled: list[tuple[str, str]] = []

    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        handled.append(("v1", msg.run_id))

    async def end_run_v2(msg: EndRunV2, uow: SqlUnitOfWork) -> None:
        handled.append(("v2", f"{msg.run_id}: {msg.reason}"))

    consumer = await work_consumers.start(end_run, versions={EndRunV2: end_run_v2})
    v2 = EndRunV2(bench_id=work_lane.bench, run_id="run-b", reason="operator")
    await js.publish(subject_of(v2), v2.model_dump_json().encode())
    await work_lane.publish(work_lane.end_run("run-a"))

    await wait_for(lambda: consumer.outcomes == ["ok", "ok"], timeout=10, message="both versions handled")
    assert handled == [("v2", "run-b: operator"), ("v1", "run-a")]
    assert await work_lane.dead_letters() == []


def lane_payload(bench: str, run_id: str) -> bytes:
    return EndRun(bench_id=bench, run_id=run_id).model_dump_json().encode()


async def test_a_per_bench_message_naming_another_bench_is_dead_lettered(lane: Any, store: Any, consumers: Any) -> None:
    """The subject says which bench sent it (NATS lets each agent publish only its own); a payload naming another
    bench is a forgery or a bug, and is not handled."""

    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        await store.add_effect(uow, msg.message_id, msg.run_id)

    consumer = await consumers.start(end_run)
    forged = EndRun(bench_id="another-bench", run_id="run-forged")
    await lane.publish_raw(encode(forged))  # on this lane's bench subject
    await lane.publish(lane.end_run("run-genuine"))

    await wait_for(lambda: consumer.outcomes == ["invalid", "ok"], timeout=10, message="both messages settled")
    assert await store.notes() == ["run-genuine"]
    (letter,) = await lane.dead_letters()
    assert "bench_id='another-bench'" in letter.error


def test_a_consumer_of_a_per_bench_event_takes_every_benchs() -> None:
    async def heartbeat(msg: BenchHeartbeat) -> None:
        return None

    sub = Subscription(message_type=BenchHeartbeat, handler=heartbeat)

    assert sub.filter_subject() == "praxis.hardware.evt.*.bench_heartbeat.*"
    assert list(sub.routes()) == ["praxis.hardware.evt.*.bench_heartbeat.v1"]
