"""The scheduler's composition root: the only place that chooses adapters and wires handlers to NATS."""

from __future__ import annotations

import argparse
import functools
from datetime import UTC, datetime
from pathlib import Path

from praxis_scheduler import __version__
from praxis_scheduler.config import Settings
from praxis_servicekit.handlers import query_routes_for, subscriptions_for
from praxis_servicekit.periodic import every
from praxis_servicekit.service import DbSpec, ServiceContext, ServiceSpec, Wiring

MIGRATIONS = Path(__file__).parent / "db" / "migrations"


def utc_clock() -> datetime:
    return datetime.now(UTC)


def build(settings: Settings | None = None) -> ServiceSpec:
    from praxis_scheduler.db.tables import metadata

    settings = settings or Settings()
    return ServiceSpec(
        name="scheduler",
        version=__version__,
        settings=settings,
        db=DbSpec(metadata=metadata, migrations=MIGRATIONS),
        wire=functools.partial(wire, settings=settings),
    )


def build_from_args(_: argparse.Namespace) -> ServiceSpec:
    return build()


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_scheduler import handlers

    deps = {"clock": utc_clock, "settings": settings, "uow_factory": ctx.uow_factory}
    subs = subscriptions_for(
        "scheduler",
        handlers.COMMAND_HANDLERS,
        handlers.EVENT_HANDLERS,
        deps,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
    )
    queries = query_routes_for(handlers.QUERY_HANDLERS, ctx.uow_factory, deps)
    # the lease sweep is the one timer: expiry is a matter of time passing, not of a message arriving
    tasks = [
        every(settings.lease_sweep_s, functools.partial(fn, ctx.uow_factory, utc_clock, settings=settings))
        for fn, _ in handlers.PERIODIC_TASKS
    ]
    return Wiring(subscriptions=subs, queries=queries, tasks=tasks)
