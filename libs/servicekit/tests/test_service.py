"""``run_service``: boot, answer health, run consumers and the relay, refuse a schema behind head, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from nats.aio.client import Client

from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import subject_of
from praxis_servicekit.consumer import Subscription
from praxis_servicekit.migrations import upgrade_to_head
from praxis_servicekit.queries import QueryFailed
from praxis_servicekit.service import ServiceContext, StartupError, Wiring, run_service
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_a_service_without_database_answers_health_and_stops_cleanly(
    nc: Client, services: Any, unique_id: str
) -> None:
    name = f"t{unique_id}"
    running = await services.start(services.spec(name))

    reply = await services.health(nc, name)
    assert (reply.service, reply.status, reply.version, reply.schema_revision) == (name, "ok", "1.2.3", None)
    assert reply.uptime_s >= 0 and reply.instance

    await running.stop()
    assert running.task.exception() is None
    with pytest.raises(QueryFailed) as failed:  # it is gone from the bus
        await services.health(nc, name)
    assert failed.value.reply.code == "unavailable"


async def test_sigterm_stops_the_service_and_restores_the_signal_handlers(
    nc: Client, services: Any, unique_id: str
) -> None:
    name = f"t{unique_id}"
    before = signal.getsignal(signal.SIGTERM)
    running = await services.start(services.spec(name))
    await services.health(nc, name)

    installed = signal.getsignal(signal.SIGTERM)
    if installed in (signal.SIG_DFL, signal.SIG_IGN, None) or installed == before:
        pytest.fail(f"run_service installed no SIGTERM handler ({installed!r}); not sending one to pytest")
    os.kill(os.getpid(), signal.SIGTERM)

    await asyncio.wait_for(running.task, timeout=15)
    assert running.task.exception() is None
    assert signal.getsignal(signal.SIGTERM) == before


async def test_health_reports_degraded_from_the_wiring(nc: Client, services: Any, unique_id: str) -> None:
    async def wire(ctx: ServiceContext) -> Wiring:
        return Wiring(health_details=lambda: {"status": "degraded", "bench": "offline"})

    name = f"t{unique_id}"
    await services.start(services.spec(name, wire))
    reply = await services.health(nc, name)
    assert reply.status == "degraded"
    assert reply.details == {"status": "degraded", "bench": "offline"}


async def test_health_says_why_a_service_is_degraded(nc: Client, services: Any, unique_id: str) -> None:
    bench_offline = [True]

    async def wire(ctx: ServiceContext) -> Wiring:
        return Wiring(health_details=lambda: {"degraded": "bench offline"} if bench_offline[0] else {})

    name = f"t{unique_id}"
    await services.start(services.spec(name, wire))
    reply = await services.health(nc, name)
    assert (reply.status, reply.details) == ("degraded", {"degraded": "bench offline"})
    bench_offline[0] = False
    assert (await services.health(nc, name)).status == "ok"


async def test_failing_health_details_degrade_the_answer_instead_of_failing_it(
    nc: Client, services: Any, unique_id: str
) -> None:
    def details() -> dict[str, str]:
        raise KeyError("bench")

    async def wire(ctx: ServiceContext) -> Wiring:
        return Wiring(health_details=details)

    name = f"t{unique_id}"
    await services.start(services.spec(name, wire))
    reply = await services.health(nc, name)
    assert reply.status == "degraded"
    assert reply.details == {"degraded": "health details failed: KeyError('bench')"}


async def test_two_versions_of_one_message_in_separate_consumers_stop_the_start(
    services: Any, lane: Any, unique_id: str
) -> None:
    async def end_run(msg: Any, uow: Any) -> None:
        return None

    async def wire(ctx: ServiceContext) -> Wiring:
        v1 = subject_of(EndRun, bench_id=lane.bench)
        v2 = v1.removesuffix(".v1") + ".v2"
        return Wiring(
            subscriptions=[
                Subscription(EndRun, end_run, durable=f"t{unique_id}-1", subject=v1),
                Subscription(EndRun, end_run, durable=f"t{unique_id}-2", subject=v2),
            ]
        )

    with pytest.raises(StartupError, match="handle versions of one message separately"):
        await services.start(services.spec(f"t{unique_id}", wire))


async def test_consumers_tasks_and_stop_hooks_run_and_stop(
    nc: Client, services: Any, lane: Any, unique_id: str
) -> None:
    handled: list[tuple[str, Any]] = []
    ticks: list[int] = []
    stopped: list[str] = []

    async def end_run(msg: EndRun, uow: Any) -> None:
        handled.append((msg.run_id, uow))

    async def ticker() -> None:
        ticks.append(1)
        await asyncio.Event().wait()  # runs until cancelled at stop

    async def on_stop() -> None:
        stopped.append("hook")

    async def wire(ctx: ServiceContext) -> Wiring:
        sub = Subscription(EndRun, end_run, durable=f"t{unique_id}", subject=subject_of(EndRun, bench_id=lane.bench))
        return Wiring(subscriptions=[sub], tasks=[ticker], on_stop=[on_stop])

    running = await services.start(services.spec(f"t{unique_id}", wire))
    await lane.publish(lane.end_run("run-svc"))
    await wait_for(lambda: handled == [("run-svc", None)], timeout=10, message="the service's consumer")
    assert ticks == [1]

    await running.stop()
    assert stopped == ["hook"]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"consumer:t{unique_id}"]


async def test_cancelling_run_service_leaves_no_task_behind(services: Any, lane: Any, unique_id: str) -> None:
    async def end_run(msg: EndRun, uow: Any) -> None:
        return None

    async def wire(ctx: ServiceContext) -> Wiring:
        sub = Subscription(EndRun, end_run, durable=f"t{unique_id}", subject=subject_of(EndRun, bench_id=lane.bench))
        return Wiring(subscriptions=[sub])

    running = await services.start(services.spec(f"t{unique_id}", wire))
    running.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running.task, timeout=15)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"consumer:t{unique_id}"]


async def test_serve_refuses_a_schema_behind_head_with_a_clear_message(
    services: Any, pg_dsn: str, alembic_dir: Any, db_schema: str, unique_id: str
) -> None:
    spec = services.spec(f"t{unique_id}", db=services.db_spec(db_schema, alembic_dir.path), database_url=pg_dsn)
    with pytest.raises(
        StartupError, match=rf"schema '{db_schema}' is at revision \(none\).*praxis-t{unique_id} migrate"
    ):
        await run_service(spec)


async def test_a_migrated_service_handles_commands_and_relays_its_events(
    nc: Client, services: Any, pg_dsn: str, alembic_dir: Any, db_schema: str, lane: Any, unique_id: str
) -> None:
    await asyncio.to_thread(upgrade_to_head, alembic_dir.path, pg_dsn, db_schema)
    handled: list[str] = []

    async def end_run(msg: EndRun, uow: Any) -> None:
        handled.append(msg.run_id)
        if msg.run_id == "run-start":  # the service's reaction leaves through its outbox and the relay
            uow.publish(EndRun(bench_id=lane.bench, run_id="run-echo", **msg.caused()))

    async def wire(ctx: ServiceContext) -> Wiring:
        sub = Subscription(EndRun, end_run, durable=f"t{unique_id}", subject=subject_of(EndRun, bench_id=lane.bench))
        return Wiring(subscriptions=[sub])

    name = f"t{unique_id}"
    spec = services.spec(name, wire, db=services.db_spec(db_schema, alembic_dir.path), database_url=pg_dsn)
    running = await services.start(spec)
    assert (await services.health(nc, name)).schema_revision == "0001"

    await lane.publish(lane.end_run("run-start"))
    await wait_for(lambda: handled == ["run-start", "run-echo"], timeout=15, message="the command and its echo")
    await running.stop()
    assert await lane.stream_messages() == 2
