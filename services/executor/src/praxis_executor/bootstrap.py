"""The executor's composition root: the only place that chooses adapters and wires handlers to NATS."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from praxis_executor import __version__
from praxis_executor.config import Settings
from praxis_servicekit.handlers import query_routes_for, subscriptions_for
from praxis_servicekit.periodic import every
from praxis_servicekit.service import DbSpec, ServiceContext, ServiceSpec, Wiring

MIGRATIONS = Path(__file__).parent / "db" / "migrations"


def build(settings: Settings | None = None) -> ServiceSpec:
    from praxis_executor.db.tables import metadata

    settings = settings or Settings()
    return ServiceSpec(
        name="executor",
        version=__version__,
        settings=settings,
        db=DbSpec(metadata=metadata, migrations=MIGRATIONS),
        wire=functools.partial(wire, settings=settings),
    )


def build_from_args(_: argparse.Namespace) -> ServiceSpec:
    return build()


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_executor import handlers
    from praxis_executor.adapters.supervisor import WorkerSupervisor, recover

    supervisor = WorkerSupervisor(ctx.uow_factory, ctx.nc, settings, instance=settings.instance)
    deps = {"supervisor": supervisor}
    subs = subscriptions_for(
        "executor",
        handlers.COMMAND_HANDLERS,
        handlers.EVENT_HANDLERS,
        deps,
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
    )
    queries = query_routes_for(handlers.QUERY_HANDLERS, ctx.uow_factory, deps)
    await recover(ctx.uow_factory, supervisor)
    return Wiring(
        subscriptions=subs,
        queries=queries,
        tasks=[every(settings.lease_renew_s, supervisor.renew_leases)],
        on_stop=[supervisor.stop_all],
        health_details=lambda: {"active_runs": str(len(supervisor.workers))},
    )
