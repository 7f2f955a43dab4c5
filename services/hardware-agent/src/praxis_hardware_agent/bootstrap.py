"""The agent's composition root: bench config + call record + holdings -> PLR runtime -> NATS routes, heartbeats,
sweeps."""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

from praxis_hardware_agent import __version__
from praxis_hardware_agent.config import Settings
from praxis_servicekit.periodic import every
from praxis_servicekit.service import ServiceContext, ServiceSpec, StartupError, Wiring

log = logging.getLogger(__name__)

HOLDINGS_CHECK_S = 1.0
"""How often the holdings feed checks whether a snapshot is due (first one failed, reconnect, ``resync_s``)."""


def build(settings: Settings | None = None) -> ServiceSpec:
    settings = settings or Settings()
    return ServiceSpec(
        name=f"hardware-agent-{settings.bench_id}",
        version=__version__,
        settings=settings,
        wire=functools.partial(wire, settings=settings),
        health_service="hardware-agent",
        manages_streams=False,  # an agent may only look the platform's streams up: it waits for them
    )


def build_from_args(args: argparse.Namespace) -> ServiceSpec:
    overrides: dict[str, object] = {}
    if getattr(args, "bench_id", None):
        overrides["bench_id"] = args.bench_id
    if getattr(args, "config", None):
        overrides["config"] = Path(args.config)
    if getattr(args, "state_dir", None):
        overrides["state_dir"] = Path(args.state_dir)
    return build(Settings(**overrides))  # type: ignore[arg-type]


def add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench-id", help="this bench's id (default: PRAXIS_AGENT_BENCH_ID or the config's)")
    parser.add_argument("--config", help="bench config YAML (default: PRAXIS_AGENT_CONFIG)")
    parser.add_argument("--state-dir", help="directory of the call record (default: PRAXIS_AGENT_STATE_DIR)")


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_hardware_agent.adapters.holdings_feed import HoldingsFeed
    from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
    from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore, StateFileError, state_file
    from praxis_hardware_agent.entrypoints.bench_bus import BenchBus

    if not settings.config.exists():
        raise StartupError(f"bench config {settings.config} does not exist")
    try:
        store = SqliteCallStore.open(state_file(settings.state_dir, settings.bench_id), sync=settings.state_sync)
    except StateFileError as exc:
        raise StartupError(str(exc)) from exc
    feed = (
        HoldingsFeed(
            ctx.nc,
            settings.bench_id,
            query_timeout_s=settings.holdings_query_timeout_s,
            resync_s=settings.holdings_resync_s,
        )
        if settings.enforce_holdings
        else None
    )
    try:
        runtime = BenchRuntime.from_file(
            settings.config,
            bench_id=settings.bench_id,
            store=store,
            inflight_wait_s=settings.call_inflight_wait_s,
            holdings=feed,
        )
    except (ValueError, OSError) as exc:
        store.close()
        raise StartupError(f"bench config {settings.config} is invalid: {exc}") from exc
    await runtime.setup()
    if feed is not None:  # subscribed and (if the scheduler answers) synced before the first call is served
        await feed.start()
    else:
        log.warning("bench %s: holdings are not enforced; any run may act on its machines", settings.bench_id)
    bus = BenchBus(runtime, ctx.js, runtime.bench_id, __version__)
    await bus.announce()

    async def heartbeat() -> None:
        await bus.heartbeat(settings.heartbeat_s)

    async def sweep() -> None:
        runtime.sweep(settings.idempotency_ttl_s)

    async def shutdown() -> None:
        # The store stays open: NATS is drained after these hooks, so a call may still arrive (the stopped
        # runtime refuses it); every commit is already durable, and the process exit closes the file.
        await bus.offline("agent stopped")
        await runtime.stop()
        if feed is not None:
            await feed.stop()

    tasks = [
        every(settings.heartbeat_s, heartbeat),
        every(settings.announce_every_s, bus.announce),
        every(settings.state_sweep_s, sweep),
    ]
    if feed is not None:
        tasks.append(every(HOLDINGS_CHECK_S, feed.maintain))

    def health() -> dict[str, str]:
        holdings = feed.status() if feed is not None else {"holdings": "not enforced"}
        return {"bench_id": runtime.bench_id, **runtime.machine_status(), **holdings}

    return Wiring(queries=bus.routes(), tasks=tasks, on_stop=[shutdown], health_details=health)
