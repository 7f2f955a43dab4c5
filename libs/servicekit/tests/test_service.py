"""``run_service``: boot, answer health, run consumers and the relay, refuse a schema behind head, stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from nats.aio.client import Client

from praxis_contracts.common import HealthQuery, HealthReply, health_subject
from praxis_contracts.hardware import EndRun
from praxis_contracts.registry import subject_of
from praxis_servicekit.consumer import Subscription
from praxis_servicekit.db import inbox_table, outbox_table
from praxis_servicekit.migrations import upgrade_to_head
from praxis_servicekit.queries import QueryFailed, request
from praxis_servicekit.service import DbSpec, ServiceContext, ServiceSpec, StartupError, Wiring, run_service
from praxis_servicekit.settings import ServiceSettings
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration


@dataclass
class Running:
    task: asyncio.Task[None]
    ctx: ServiceContext

    async def stop(self) -> None:
        self.ctx.stopping.set()
        await asyncio.wait_for(self.task, timeout=15)


@dataclass
class Services:
    nats_url: str
    running: list[Running] = field(default_factory=list)

    def spec(
        self,
        name: str,
        wire: Callable[[ServiceContext], Awaitable[Wiring]] | None = None,
        *,
        db: DbSpec | None = None,
        database_url: str | None = None,
    ) -> ServiceSpec:
        settings = ServiceSettings(nats_url=self.nats_url, database_url=database_url, shutdown_grace_s=5.0)

        async def no_wiring(ctx: ServiceContext) -> Wiring:
            return Wiring()

        return ServiceSpec(name=name, version="1.2.3", settings=settings, wire=wire or no_wiring, db=db)

    async def start(self, spec: ServiceSpec) -> Running:
        """Run the service in a task; return once it serves (or raise what stopped it from starting)."""
        contexts: list[ServiceContext] = []
        original_wire = spec.wire

        async def wire(ctx: ServiceContext) -> Wiring:
            contexts.append(ctx)
            return await original_wire(ctx)

        spec.wire = wire
        ready = asyncio.Event()
        task = asyncio.create_task(run_service(spec, ready=ready.set))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait([task, ready_wait], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if task.done():
            task.result()  # raises why it did not start
            raise AssertionError("run_service returned before it was ready")
        assert ready.is_set(), "run_service did not become ready within 30 s"
        running = Running(task, contexts[0])
        self.running.append(running)
        return running

    async def stop_all(self) -> None:
        for running in self.running:
            if not running.task.done():
                await running.stop()


@pytest.fixture
async def services(nats_url: str) -> AsyncIterator[Services]:
    group = Services(nats_url)
    yield group
    await group.stop_all()


async def ask_health(nc: Client, service: str) -> HealthReply:
    return await request(nc, HealthQuery(), HealthReply, subject=health_subject(service), timeout=5)


async def test_a_service_without_database_answers_health_and_stops_cleanly(
    nc: Client, services: Services, unique_id: str
) -> None:
    name = f"t{unique_id}"
    running = await services.start(services.spec(name))

    reply = await ask_health(nc, name)
    assert (reply.service, reply.status, reply.version, reply.schema_revision) == (name, "ok", "1.2.3", None)
    assert reply.uptime_s >= 0 and reply.instance

    await running.stop()
    assert running.task.exception() is None
    with pytest.raises(QueryFailed) as failed:  # it is gone from the bus
        await ask_health(nc, name)
    assert failed.value.reply.code == "unavailable"


async def test_sigterm_stops_the_service_and_restores_the_signal_handlers(
    nc: Client, services: Services, unique_id: str
) -> None:
    name = f"t{unique_id}"
    before = signal.getsignal(signal.SIGTERM)
    running = await services.start(services.spec(name))
    await ask_health(nc, name)

    installed = signal.getsignal(signal.SIGTERM)
    if installed in (signal.SIG_DFL, signal.SIG_IGN, None) or installed == before:
        pytest.fail(f"run_service installed no SIGTERM handler ({installed!r}); not sending one to pytest")
    os.kill(os.getpid(), signal.SIGTERM)

    await asyncio.wait_for(running.task, timeout=15)
    assert running.task.exception() is None
    assert signal.getsignal(signal.SIGTERM) == before


async def test_health_reports_degraded_from_the_wiring(nc: Client, services: Services, unique_id: str) -> None:
    async def wire(ctx: ServiceContext) -> Wiring:
        return Wiring(health_details=lambda: {"status": "degraded", "bench": "offline"})

    name = f"t{unique_id}"
    await services.start(services.spec(name, wire))
    reply = await ask_health(nc, name)
    assert reply.status == "degraded"
    assert reply.details == {"status": "degraded", "bench": "offline"}


async def test_consumers_tasks_and_stop_hooks_run_and_stop(
    nc: Client, services: Services, lane: Any, unique_id: str
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


async def test_cancelling_run_service_leaves_no_task_behind(services: Services, lane: Any, unique_id: str) -> None:
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


@pytest.fixture
async def db_schema(engine: Any, unique_id: str) -> AsyncIterator[str]:
    name = f"svc_{unique_id}"
    yield name
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def db_spec(schema: str, migrations: Any) -> DbSpec:
    metadata = sa.MetaData(schema=schema)
    outbox_table(metadata)
    inbox_table(metadata)
    return DbSpec(metadata=metadata, migrations=migrations)


async def test_serve_refuses_a_schema_behind_head_with_a_clear_message(
    services: Services, pg_dsn: str, alembic_dir: Any, db_schema: str, unique_id: str
) -> None:
    spec = services.spec(f"t{unique_id}", db=db_spec(db_schema, alembic_dir.path), database_url=pg_dsn)
    with pytest.raises(
        StartupError, match=rf"schema '{db_schema}' is at revision \(none\).*praxis-t{unique_id} migrate"
    ):
        await run_service(spec)


async def test_a_migrated_service_handles_commands_and_relays_its_events(
    nc: Client, services: Services, pg_dsn: str, alembic_dir: Any, db_schema: str, lane: Any, unique_id: str
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
    spec = services.spec(name, wire, db=db_spec(db_schema, alembic_dir.path), database_url=pg_dsn)
    running = await services.start(spec)
    assert (await ask_health(nc, name)).schema_revision == "0001"

    await lane.publish(lane.end_run("run-start"))
    await wait_for(lambda: handled == ["run-start", "run-echo"], timeout=15, message="the command and its echo")
    await running.stop()
    assert await lane.stream_messages() == 2
