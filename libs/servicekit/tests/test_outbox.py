"""The outbox: events leave in the transaction of the state change, a relay crash never duplicates them, and
a row that can never be published goes to the dead-letter queue instead of wedging every row behind it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NoStreamResponseError
from prometheus_client import REGISTRY

from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import subject_of
from praxis_contracts.streams import StreamSpec
from praxis_servicekit.bus import ensure_streams
from praxis_servicekit.db import SqlUnitOfWork
from praxis_servicekit.outbox import OutboxRelay
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration


def relay_for(store: Any, js: Any, service: str = "outbox-test", **options: Any) -> OutboxRelay:
    return OutboxRelay(store.engine, store.outbox, js, service=service, **options)


async def commit_event(store: Any, event: EndRun, note: str = "state change", subject: str | None = None) -> None:
    async with store.uow_factory() as uow:
        await store.add_effect(uow, event.message_id, note)
        uow.publish(event, subject)
        await uow.commit()


def dead_lettered_rows(service: str) -> float:
    return REGISTRY.get_sample_value("praxis_outbox_dead_lettered_total", {"service": service}) or 0.0


async def run_ids(js: Any, stream: str) -> list[str]:
    count = (await js.stream_info(stream)).state.messages
    return [EndRun.model_validate_json((await js.get_msg(stream, seq=seq)).data).run_id for seq in range(1, count + 1)]


async def unsent(store: Any) -> int:
    return int(await store.count(store.outbox, store.outbox.c.published_at.is_(None)))


async def test_a_relay_killed_between_publish_and_mark_does_not_duplicate_the_event(
    lane: Any, store: Any, js: Any, consumers: Any
) -> None:
    event = lane.end_run("run-relayed")
    await commit_event(store, event)
    relay = relay_for(store, js)

    assert await relay.relay_once(mark=False) == 1  # published, then "crashed" before marking the row
    assert await unsent(store) == 1
    assert await relay.relay_once() == 1  # the restarted relay publishes the row again, and marks it
    assert await unsent(store) == 0
    assert await relay.relay_once() == 0

    assert await lane.stream_messages() == 1  # JetStream dropped the second copy (Nats-Msg-Id = message_id)

    handled: list[str] = []

    async def end_run(msg: EndRun, uow: SqlUnitOfWork) -> None:
        handled.append(msg.run_id)

    consumer = await consumers.start(end_run)
    await wait_for(lambda: consumer.outcomes == ["ok"], timeout=10)
    await consumers.idle(consumer)
    assert handled == ["run-relayed"]


async def test_events_are_committed_with_the_state_change_and_carry_their_headers(
    lane: Any, store: Any, js: Any
) -> None:
    event = lane.end_run("run-headers", correlation_id="run-headers", causation_id="cause-1")
    await commit_event(store, event)
    assert await store.notes() == ["state change"]
    assert await unsent(store) == 1

    assert await relay_for(store, js).relay_once() == 1
    stored = await js.get_last_msg(lane.stream, subject_of(event))
    assert EndRun.model_validate_json(stored.data) == event
    headers = stored.headers or {}
    assert headers["Nats-Msg-Id"] == str(event.message_id)
    assert headers["Praxis-Type"] == "EndRun"
    assert headers["Praxis-Correlation-Id"] == "run-headers"
    assert headers["Praxis-Causation-Id"] == "cause-1"


async def test_a_rolled_back_unit_of_work_publishes_nothing(lane: Any, store: Any, js: Any) -> None:
    event = lane.end_run("run-rolled-back")
    with pytest.raises(ValueError, match="handler failed"):
        async with store.uow_factory() as uow:
            await store.add_effect(uow, event.message_id)
            uow.publish(event)
            raise ValueError("handler failed")
    async with store.uow_factory() as uow:  # leaving without commit() rolls back as well
        await store.add_effect(uow, event.message_id)
        uow.publish(event)

    assert await store.count(store.outbox) == 0
    assert await store.count(store.effects) == 0
    assert await relay_for(store, js).relay_once() == 0
    assert await lane.stream_messages() == 0


async def test_the_running_relay_is_woken_by_a_commit_and_drains_on_stop(lane: Any, store: Any, js: Any) -> None:
    relay = relay_for(store, js, poll_s=60.0, batch=10)  # polling alone would take a minute
    store.uow_factory.notify = relay.notify
    task = asyncio.create_task(relay.run())
    try:
        events = [lane.end_run(f"run-{i}") for i in range(25)]  # more than one batch
        for event in events:
            await commit_event(store, event)

        async def all_published() -> bool:
            return await unsent(store) == 0 and await lane.stream_messages() == 25

        await wait_for(all_published, timeout=10, message="the relay to publish 25 events")
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)
    # JetStream keeps them in commit order
    first = await js.get_msg(lane.stream, seq=1)
    assert EndRun.model_validate_json(first.data).run_id == "run-0"


async def test_rows_committed_while_stopping_are_drained(lane: Any, store: Any, js: Any) -> None:
    relay = relay_for(store, js, poll_s=60.0)
    task = asyncio.create_task(relay.run())
    await commit_event(store, lane.end_run("run-late"))  # no notify wired: only the stop drain sends it
    relay.stop()
    await asyncio.wait_for(task, timeout=10)
    assert await unsent(store) == 0
    assert await lane.stream_messages() == 1


async def test_a_row_over_max_payload_is_dead_lettered_and_the_rows_around_and_after_it_are_published(
    lane: Any, store: Any, js: Any
) -> None:
    before = dead_lettered_rows(lane.service)
    big = lane.end_run("x" * (9 * 1024 * 1024), correlation_id="run-big")  # the test NATS allows 8 MiB
    for event in (lane.end_run("run-1"), big, lane.end_run("run-2")):
        await commit_event(store, event)
    relay = relay_for(store, js, service=lane.service, poll_s=60.0)
    store.uow_factory.notify = relay.notify
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(_all_sent(store), timeout=20, message="the relay to settle all three rows")
        assert await run_ids(js, lane.stream) == ["run-1", "run-2"]  # in order, without the big one

        await commit_event(store, lane.end_run("run-3"))  # the relay was not wedged: later rows go out too
        await wait_for(lambda: _count(js, lane.stream, 3), timeout=10, message="the row written afterwards")
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)
    assert await run_ids(js, lane.stream) == ["run-1", "run-2", "run-3"]

    (letter,) = await lane.dead_letters()
    big_json = big.model_dump_json()
    assert letter.original_subject == subject_of(big)
    assert letter.error.startswith("unpublishable outbox row: MaxPayloadError")
    truncated = re.search(r"payload truncated to (\d+) of (\d+) bytes", letter.error)
    assert truncated is not None and int(truncated[2]) == len(big_json.encode())
    assert big_json.startswith(letter.payload) and len(letter.payload) == int(truncated[1]) > 7 * 1024 * 1024
    assert letter.headers["Nats-Msg-Id"] == str(big.message_id) and letter.headers["Praxis-Type"] == "EndRun"
    assert letter.correlation_id == "run-big"
    assert dead_lettered_rows(lane.service) == before + 1


def _all_sent(store: Any) -> Any:
    async def check() -> bool:
        return await unsent(store) == 0

    return check


async def _count(js: Any, stream: str, expected: int) -> bool:
    return int((await js.stream_info(stream)).state.messages) == expected


async def test_rows_jetstream_or_nats_refuse_are_dead_lettered_with_their_cause(
    lane: Any, store: Any, js: Any, unique_id: str
) -> None:
    bench, stream = f"s{unique_id}", f"PRAXIS_TEST_SMALL_{unique_id.upper()}"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"praxis.bench.{bench}.>"], max_msg_size=1024))
    try:
        too_big = EndRun(bench_id=bench, run_id="y" * 2048)  # fits NATS, not this stream: JetStream says so
        bad_subject = EndRun(bench_id=bench, run_id="run-wild")
        await commit_event(store, EndRun(bench_id=bench, run_id="run-1"))
        await commit_event(store, too_big)
        await commit_event(store, bad_subject, subject=f"praxis.bench.{bench}.cmd.*.v1")
        await commit_event(store, EndRun(bench_id=bench, run_id="run-2"))

        relay = relay_for(store, js, service=lane.service, ack_timeout_s=1.0)  # nats-py loses the refusal: see _acks
        assert await relay.relay_once() == 4
        assert await unsent(store) == 0
        assert await run_ids(js, stream) == ["run-1", "run-2"]
    finally:
        await js.delete_stream(stream)
    refused_by_stream, refused_subject = await lane.dead_letters()
    assert refused_by_stream.original_subject == subject_of(too_big)
    assert "JetStream refused it" in refused_by_stream.error and "err_code 10054" in refused_by_stream.error
    assert refused_by_stream.payload == too_big.model_dump_json()  # small enough to be carried whole
    assert refused_subject.original_subject == f"praxis.bench.{bench}.cmd.*.v1"
    assert "invalid subject" in refused_subject.error


async def test_a_failure_that_may_pass_marks_nothing_and_the_running_relay_retries_until_it_passes(
    lane: Any, store: Any, js: Any, unique_id: str
) -> None:
    bench = f"late{unique_id}"
    await commit_event(store, EndRun(bench_id=bench, run_id="run-before-its-stream"))
    relay = relay_for(store, js, service=lane.service, poll_s=60.0, retry_backoff_s=0.05, retry_backoff_max_s=0.2)
    with pytest.raises(NoStreamResponseError):  # no stream yet: transient, not a dead letter
        await relay.relay_once()
    assert await unsent(store) == 1

    spec = StreamSpec(name=f"PRAXIS_TEST_LATE_{unique_id.upper()}", subjects=(f"praxis.bench.{bench}.>",))
    task = asyncio.create_task(relay.run())
    try:
        await ensure_streams(js, (spec,))  # the stream appears while the relay backs off and retries
        await wait_for(_all_sent(store), timeout=10, message="the retried row to be published")
        assert await run_ids(js, spec.name) == ["run-before-its-stream"]
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=10)
        await js.delete_stream(spec.name)
    assert await lane.dead_letters() == []
