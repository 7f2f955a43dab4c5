"""The outbox: events leave in the transaction of the state change, and a relay crash never duplicates them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import subject_of
from praxis_servicekit.db import SqlUnitOfWork
from praxis_servicekit.outbox import OutboxRelay
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration


def relay_for(store: Any, js: Any, **options: Any) -> OutboxRelay:
    return OutboxRelay(store.engine, store.outbox, js, service="outbox-test", **options)


async def commit_event(store: Any, event: EndRun, note: str = "state change") -> None:
    async with store.uow_factory() as uow:
        await store.add_effect(uow, event.message_id, note)
        uow.publish(event)
        await uow.commit()


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
