"""What the gateway holds while it runs: the NATS connection, the event hub, the optional database engine.

Opened by the app's lifespan, never at import time; routes reach it through ``api.deps``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_gateway.bus import Bus
from praxis_gateway.config import Settings
from praxis_gateway.events import EventHub
from praxis_servicekit.bus import NatsCredentialsError, StreamSetupError, connect, ensure_streams

log = logging.getLogger(__name__)


class GatewayStartupError(RuntimeError):
    """A condition that keeps the gateway from starting, with a message a person can act on."""


@dataclass
class Runtime:
    settings: Settings
    nc: Client
    bus: Bus
    hub: EventHub
    engine: AsyncEngine | None = None
    schema_revision: str | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started_at, 3)


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    if settings.auth == "api-key" and not settings.database_url:
        raise GatewayStartupError("PRAXIS_GATEWAY_AUTH=api-key needs PRAXIS_DATABASE_URL (API keys live in Postgres)")
    async with contextlib.AsyncExitStack() as stack:
        engine, revision = await _open_database(settings, stack)
        try:
            nc = await connect(settings.nats_url, f"praxis-gateway-{settings.instance}", creds=settings.nats_creds)
        except NatsCredentialsError as exc:
            raise GatewayStartupError(str(exc)) from exc
        except Exception as exc:
            raise GatewayStartupError(f"cannot reach NATS at {settings.nats_url}: {exc}") from exc
        stack.push_async_callback(_close_nats, nc)
        js = nc.jetstream()
        if settings.ensure_streams:
            try:
                await ensure_streams(js)
            except StreamSetupError as exc:
                raise GatewayStartupError(str(exc)) from exc
        hub = EventHub(nc, queue_size=settings.ws_queue_size)
        await hub.start()
        stack.push_async_callback(hub.stop)
        bus = Bus(nc, js, query_timeout_s=settings.query_timeout_s)
        log.info("gateway connected to NATS at %s (auth %s)", settings.nats_url, settings.auth)
        yield Runtime(settings=settings, nc=nc, bus=bus, hub=hub, engine=engine, schema_revision=revision)


async def _open_database(settings: Settings, stack: contextlib.AsyncExitStack) -> tuple[AsyncEngine | None, str | None]:
    if not settings.database_url:
        return None, None
    from praxis_gateway.db.tables import SCHEMA
    from praxis_servicekit.db import make_engine
    from praxis_servicekit.migrations import current_revision

    engine = make_engine(settings.database_url)
    stack.push_async_callback(engine.dispose)
    try:
        revision = await current_revision(engine, SCHEMA)
    except OSError as exc:
        raise GatewayStartupError(f"cannot reach Postgres at {settings.database_url}: {exc}") from exc
    return engine, revision


async def _close_nats(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()
