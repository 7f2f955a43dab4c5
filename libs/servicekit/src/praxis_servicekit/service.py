"""The life of a service process: check schema, connect, set up streams, run consumers, relay, queries and
tasks, answer health, serve metrics, and stop gracefully on SIGTERM.

A service describes itself with a :class:`ServiceSpec`; its ``wire`` callback receives the live
:class:`ServiceContext` (connections exist only at run time, never at import time) and returns what to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from praxis_contracts.base import Reply
from praxis_contracts.common import HealthQuery, HealthReply, health_subject
from praxis_contracts.streams import ALL_STREAMS
from praxis_servicekit import metrics
from praxis_servicekit.bus import (
    NatsCredentialsError,
    StreamSetupError,
    connect,
    ensure_streams,
    sync_with_server,
    wait_for_streams,
)
from praxis_servicekit.consumer import Consumer, Subscription, check_subscriptions
from praxis_servicekit.queries import QueryRoute, serve_queries
from praxis_servicekit.settings import ServiceSettings

if TYPE_CHECKING:  # SQLAlchemy is the optional ``db`` extra: a bench PC's hardware agent runs without it
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass
class DbSpec:
    metadata: sa.MetaData
    migrations: Path

    @property
    def schema(self) -> str:
        assert self.metadata.schema
        return self.metadata.schema


@dataclass
class Wiring:
    """What a service runs. ``health_details`` adds to the health answer; returning ``{"status": "degraded"}``
    or, better, ``{"degraded": "<why>"}`` marks the service degraded (the database check adds its own reason)."""

    subscriptions: list[Subscription] = field(default_factory=list)
    queries: list[QueryRoute] = field(default_factory=list)
    tasks: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    health_details: Callable[[], dict[str, str]] | None = None


@dataclass
class ServiceContext:
    settings: ServiceSettings
    nc: Client
    js: JetStreamContext
    engine: AsyncEngine | None
    uow_factory: Any
    stopping: asyncio.Event
    started_at: float


@dataclass
class ServiceSpec:
    name: str
    version: str
    settings: ServiceSettings
    wire: Callable[[ServiceContext], Awaitable[Wiring]]
    db: DbSpec | None = None
    health_service: str | None = None
    manages_streams: bool = True
    """False for a service whose credentials may only look streams up (a bench's agent): it waits for the central
    services to create them instead of failing, so a bench PC may start before the platform."""


class StartupError(RuntimeError):
    """A condition that stops ``serve`` with a one-line message instead of a traceback."""


async def run_service(spec: ServiceSpec, *, ready: Callable[[], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``ServiceContext.stopping`` is set), then drain and close.

    Raises :class:`StartupError` when the service cannot start (schema behind head, a server unreachable).
    """
    stopping = asyncio.Event()
    with _stop_on_signals(stopping):
        await _run(spec, stopping, ready)


@contextlib.contextmanager
def _stop_on_signals(stopping: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stopping`` while the service runs; the previous handlers come back afterwards."""
    loop = asyncio.get_running_loop()
    installed: list[tuple[signal.Signals, Any]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            previous = signal.getsignal(sig)
            loop.add_signal_handler(sig, stopping.set)
            installed.append((sig, previous))
    try:
        yield
    finally:
        for sig, previous in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, TypeError):
                loop.remove_signal_handler(sig)
                if previous is not None:
                    signal.signal(sig, previous)


async def _run(spec: ServiceSpec, stopping: asyncio.Event, ready: Callable[[], None] | None) -> None:
    settings = spec.settings
    started_at = time.monotonic()

    async with contextlib.AsyncExitStack() as stack:
        engine: AsyncEngine | None = None
        uow_factory: Any = None
        revision: str | None = None
        relay = None
        if spec.db is not None:
            from sqlalchemy.exc import DBAPIError

            from praxis_servicekit.db import UnitOfWorkFactory, make_engine
            from praxis_servicekit.migrations import SchemaBehind, check_at_head

            if not settings.database_url:
                raise StartupError(f"{spec.name} needs PRAXIS_DATABASE_URL")
            engine = make_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            try:
                revision = await check_at_head(engine, spec.db.migrations, spec.db.schema, spec.name)
            except SchemaBehind as exc:
                raise StartupError(str(exc)) from exc
            except (OSError, DBAPIError) as exc:
                raise StartupError(f"cannot reach Postgres at {settings.database_url}: {exc}") from exc
            uow_factory = UnitOfWorkFactory(engine, spec.db.metadata)

        try:
            nc = await connect(settings.nats_url, f"praxis-{spec.name}-{settings.instance}", creds=settings.nats_creds)
        except NatsCredentialsError as exc:
            raise StartupError(str(exc)) from exc
        except Exception as exc:
            raise StartupError(f"cannot reach NATS at {settings.nats_url}: {exc}") from exc
        stack.push_async_callback(_close_nats, nc)
        js = nc.jetstream()
        try:
            if spec.manages_streams:
                await ensure_streams(js, ALL_STREAMS, replicas=settings.nats_replicas)
            else:
                await wait_for_streams(js, ALL_STREAMS, stopping)
        except StreamSetupError as exc:
            raise StartupError(str(exc)) from exc

        if engine is not None and spec.db is not None:
            from praxis_servicekit.outbox import OutboxRelay

            relay = OutboxRelay(
                engine,
                uow_factory.outbox,
                js,
                service=spec.name,
                poll_s=settings.outbox_poll_s,
                retry_backoff_max_s=settings.outbox_retry_max_s,
                max_payload=nc.max_payload,
            )
            uow_factory.notify = relay.notify

        ctx = ServiceContext(settings, nc, js, engine, uow_factory, stopping, started_at)
        wiring = await spec.wire(ctx)
        try:
            check_subscriptions(wiring.subscriptions, spec.name)
        except ValueError as exc:
            raise StartupError(str(exc)) from exc
        consumers = [
            Consumer(js, sub, service=spec.name, uow_factory=uow_factory, batch=settings.consumer_batch)
            for sub in wiring.subscriptions
        ]
        for consumer in consumers:
            await consumer.subscribe()

        async def health(_: HealthQuery) -> Reply:
            details = await _health_details(wiring, engine, settings.health_db_timeout_s)
            return HealthReply(
                service=spec.health_service or spec.name,
                status="degraded" if details.get("status") == "degraded" or details.get("degraded") else "ok",
                version=spec.version,
                schema_revision=revision,
                uptime_s=round(time.monotonic() - started_at, 3),
                instance=settings.instance,
                details=details,
            )

        routes = [*wiring.queries, QueryRoute(HealthQuery, health, health_subject(spec.health_service or spec.name))]
        await serve_queries(nc, routes, service=spec.name)
        await sync_with_server(nc)  # the server knows our subscriptions before we call ourselves ready

        if settings.metrics_port:
            try:
                server, port = await metrics.serve_http(
                    settings.metrics_host, settings.metrics_port, lambda: nc.is_connected
                )
            except OSError as exc:
                raise StartupError(
                    f"cannot serve /metrics on {settings.metrics_host}:{settings.metrics_port} ({exc.strerror}): "
                    "set this service's METRICS_PORT to a free port, or 0 to turn metrics off"
                ) from exc
            stack.push_async_callback(_close_server, server)
            log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
        metrics.UP.labels(spec.name, spec.version).set(1)

        tasks = [asyncio.create_task(c.run(), name=f"consumer:{c.durable}") for c in consumers]
        if relay is not None:
            tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
        background: list[asyncio.Task[None]] = [
            asyncio.create_task(t(), name=getattr(t, "__name__", "task")) for t in wiring.tasks
        ]
        log.info("%s %s serving (%d consumers, %d queries)", spec.name, spec.version, len(consumers), len(routes))
        if ready is not None:
            ready()

        stop_wait: asyncio.Task[Any] = asyncio.create_task(stopping.wait())
        try:
            done, _ = await asyncio.wait([stop_wait, *tasks, *background], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop_wait and not task.cancelled() and task.exception():
                    log.error("task %s died: %r", task.get_name(), task.exception())
            log.info("%s stopping", spec.name)
            for c in consumers:
                c.stop()
            for hook in wiring.on_stop:
                with contextlib.suppress(Exception):
                    await hook()
            for t in background:
                t.cancel()
            consumer_tasks = tasks[: len(consumers)]
            if consumer_tasks:
                await asyncio.wait(consumer_tasks, timeout=settings.shutdown_grace_s)
            if relay is not None:
                relay.stop()
                await asyncio.wait(tasks[len(consumers) :], timeout=settings.shutdown_grace_s)
        finally:  # also when run_service itself is cancelled: no task outlives the connections closed below
            for t in [*tasks, *background, stop_wait]:
                t.cancel()
            await asyncio.gather(*tasks, *background, stop_wait, return_exceptions=True)
            metrics.UP.labels(spec.name, spec.version).set(0)
    log.info("%s stopped", spec.name)


async def _health_details(wiring: Wiring, engine: AsyncEngine | None, timeout_s: float) -> dict[str, str]:
    """The wiring's details plus the database's state (a bounded ping); ``degraded`` says why when it is.

    A failing ``health_details`` callback degrades the answer instead of turning it into an error reply.
    """
    reasons: list[str] = []
    try:
        details = dict(wiring.health_details()) if wiring.health_details else {}
    except Exception as exc:
        log.exception("health details failed")
        details, reasons = {}, [f"health details failed: {exc!r}"]
    if details.get("degraded"):
        reasons.insert(0, details["degraded"])
    if engine is not None:
        from praxis_servicekit.db import ping

        problem = await ping(engine, timeout_s)
        details["database"] = "ok" if problem is None else f"unreachable: {problem}"
        if problem is not None:
            reasons.append("database unreachable")
    if reasons:
        details["degraded"] = "; ".join(reasons)
    return details


async def _close_nats(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


async def _close_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()
