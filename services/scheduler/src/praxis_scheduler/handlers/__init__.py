"""The scheduler's handler tables, wired to NATS by ``bootstrap``.

Command and event handlers run inside a unit of work the consumer opens (with the inbox row) and commits;
query handlers get one of their own; periodic tasks open theirs from the factory. Dependencies injected by
parameter name: ``clock`` (() -> aware datetime) and ``settings`` (:class:`~praxis_scheduler.config.Settings`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from praxis_contracts.base import Message, Query
from praxis_contracts.executor import RunFinished, RunLeaseRenewed, RunStarted
from praxis_contracts.hardware import (
    BenchAnnounced,
    BenchHeartbeat,
    BenchOffline,
    ListBenches,
    MachineStatusChanged,
)
from praxis_contracts.scheduler import (
    BookReservation,
    ForceReleaseReservation,
    GetQueue,
    ListReservations,
    SubmitRun,
)
from praxis_scheduler.handlers.benches import (
    list_benches,
    project_bench_announced,
    project_bench_heartbeat,
    project_bench_offline,
    project_machine_status,
)
from praxis_scheduler.handlers.queue import get_queue
from praxis_scheduler.handlers.reservations import (
    LEASE_SWEEP_INTERVAL_S,
    book_reservation,
    expire_leases,
    force_release_reservation,
    list_reservations,
)
from praxis_scheduler.handlers.runs import record_run_started, release_finished_run, renew_run_lease, submit_run

Handler = Callable[..., Awaitable[Any]]


class PeriodicTask(NamedTuple):
    """``fn(uow_factory, clock)`` run every ``interval_s`` seconds; unpacks as ``(fn, interval_s)``."""

    fn: Handler
    interval_s: float


COMMAND_HANDLERS: dict[type[Message], Handler] = {
    SubmitRun: submit_run,
}

EVENT_HANDLERS: dict[type[Message], list[Handler]] = {
    BenchAnnounced: [project_bench_announced],
    BenchHeartbeat: [project_bench_heartbeat],
    BenchOffline: [project_bench_offline],
    MachineStatusChanged: [project_machine_status],
    RunStarted: [record_run_started],
    RunFinished: [release_finished_run],
    RunLeaseRenewed: [renew_run_lease],
}

QUERY_HANDLERS: dict[type[Query], Handler] = {
    GetQueue: get_queue,
    ListReservations: list_reservations,
    BookReservation: book_reservation,
    ForceReleaseReservation: force_release_reservation,
    ListBenches: list_benches,
}

PERIODIC_TASKS: list[PeriodicTask] = [PeriodicTask(expire_leases, LEASE_SWEEP_INTERVAL_S)]

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS", "PERIODIC_TASKS", "QUERY_HANDLERS", "PeriodicTask"]
