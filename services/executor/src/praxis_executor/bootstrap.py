"""The executor's composition root: the only place that chooses adapters and wires handlers to NATS."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg

from praxis_contracts.base import Message, Reply
from praxis_contracts.executor import GetRun, GetRunEvents, GetRunOutputs, ListRuns, RunControlRequested
from praxis_contracts.registry import subject_of
from praxis_executor import __version__
from praxis_executor.config import Settings
from praxis_servicekit.handlers import inject, query_routes_for, subscriptions_for
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


def with_repositories(
    handler: Callable[..., Awaitable[Any]], deps: dict[str, Any], lease_ttl_s: float
) -> Callable[[Message, Any], Awaitable[Any]]:
    """Bind ``deps`` and give the handler the executor's unit of work around the consumer's transaction."""
    from praxis_executor.adapters.repository import ExecutorUnitOfWork

    injected = inject(handler, deps)

    async def call(message: Message, uow: Any) -> Any:
        return await injected(message, ExecutorUnitOfWork(uow, lease_ttl_s=lease_ttl_s))

    call.__name__ = call.__qualname__ = handler.__name__
    return call


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_executor import handlers, views
    from praxis_executor.adapters.job_inputs import JobInputs
    from praxis_executor.entrypoints.supervisor import WorkerSupervisor

    inputs = JobInputs(ctx.nc, timeout_s=settings.query_timeout_s, patience_s=settings.inputs_patience_s)
    supervisor = WorkerSupervisor(ctx.uow_factory, inputs, settings)
    deps: dict[str, Any] = {"owner": supervisor}
    ttl = settings.lease_ttl_s
    commands = {cls: with_repositories(fn, deps, ttl) for cls, fn in handlers.COMMAND_HANDLERS.items()}
    events = {cls: [with_repositories(fn, deps, ttl) for fn in fns] for cls, fns in handlers.EVENT_HANDLERS.items()}
    subs = subscriptions_for(
        "executor",
        commands,
        events,
        {},
        max_deliver=settings.consumer_max_deliver,
        ack_wait_s=settings.consumer_ack_wait_s,
    )
    queries: dict[type[Message], Callable[..., Awaitable[Reply]]] = {
        GetRun: views.get_run,
        ListRuns: views.list_runs,
        GetRunEvents: views.get_run_events,
        GetRunOutputs: views.get_run_outputs,
    }

    async def on_control(msg: Msg) -> None:
        await supervisor.on_control(RunControlRequested.model_validate_json(msg.data))

    await ctx.nc.subscribe(subject_of(RunControlRequested), cb=on_control)  # every replica: the owner acts
    return Wiring(
        subscriptions=subs,
        queries=query_routes_for(queries, ctx.uow_factory, {}),
        tasks=[every(settings.lease_renew_s, supervisor.tick)],
        on_stop=[supervisor.stop_all],
        health_details=supervisor.health_details,
    )
