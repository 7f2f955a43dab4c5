"""The agent's composition root: bench config -> PLR runtime -> NATS routes, announcements and heartbeats."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from praxis_hardware_agent import __version__
from praxis_hardware_agent.config import Settings
from praxis_servicekit.periodic import every
from praxis_servicekit.service import ServiceContext, ServiceSpec, StartupError, Wiring


def build(settings: Settings | None = None) -> ServiceSpec:
    settings = settings or Settings()
    return ServiceSpec(
        name=f"hardware-agent-{settings.bench_id}",
        version=__version__,
        settings=settings,
        wire=functools.partial(wire, settings=settings),
        health_service="hardware-agent",
    )


def build_from_args(args: argparse.Namespace) -> ServiceSpec:
    overrides: dict[str, object] = {}
    if getattr(args, "bench_id", None):
        overrides["bench_id"] = args.bench_id
    if getattr(args, "config", None):
        overrides["config"] = Path(args.config)
    return build(Settings(**overrides))  # type: ignore[arg-type]


def add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench-id", help="this bench's id (default: PRAXIS_AGENT_BENCH_ID or the config's)")
    parser.add_argument("--config", help="bench config YAML (default: PRAXIS_AGENT_CONFIG)")


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_hardware_agent.adapters.kv_idempotency import KvIdempotencyStore
    from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
    from praxis_hardware_agent.entrypoints.bench_bus import BenchBus

    if not settings.config.exists():
        raise StartupError(f"bench config {settings.config} does not exist")
    store = await KvIdempotencyStore.open(ctx.js, settings.bench_id, settings.idempotency_ttl_s)
    try:
        runtime = BenchRuntime.from_file(
            settings.config,
            bench_id=settings.bench_id,
            store=store,
        )
    except (ValueError, OSError) as exc:
        raise StartupError(f"bench config {settings.config} is invalid: {exc}") from exc
    await runtime.setup()
    bus = BenchBus(runtime, ctx.js, runtime.bench_id, __version__)
    await bus.announce()

    async def heartbeat() -> None:
        await bus.heartbeat(settings.heartbeat_s)

    async def shutdown() -> None:
        await bus.offline("agent stopped")
        await runtime.stop()
        await store.flush()

    return Wiring(
        queries=bus.routes(),
        tasks=[every(settings.heartbeat_s, heartbeat), every(settings.announce_every_s, bus.announce)],
        on_stop=[shutdown],
        health_details=lambda: {"bench_id": runtime.bench_id, **runtime.machine_status()},
    )
