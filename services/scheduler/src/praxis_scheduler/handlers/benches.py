"""The bench and inventory projection: hardware-agent events in, ``ListBenches`` out.

A bench is online while its last heartbeat is younger than ``heartbeat_grace_factor`` intervals; going silent
needs no event (the resolver reads the age). Coming back online, or a machine recovering from a fault, frees
assets, so those handlers run a placement pass.
"""

from __future__ import annotations

from praxis_contracts.hardware import (
    BenchAnnounced,
    BenchHeartbeat,
    BenchList,
    BenchOffline,
    BenchState,
    ListBenches,
    MachineStatusChanged,
)
from praxis_scheduler.adapters import inventory as inventory_repo
from praxis_scheduler.config import Settings
from praxis_scheduler.domain.inventory import UNAVAILABLE_STATUSES
from praxis_scheduler.domain.policy import Policy
from praxis_scheduler.handlers.placement import begin_placement, place_waiting_runs
from praxis_scheduler.handlers.uow import Clock, UnitOfWork, utc_now
from praxis_servicekit import metrics


def _usable(status: str | None) -> bool:
    return status is not None and status.lower() not in UNAVAILABLE_STATUSES


async def project_bench_announced(
    evt: BenchAnnounced, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> None:
    now = clock()
    await begin_placement(uow)
    await inventory_repo.apply_announcement(uow.session, evt, now)
    await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings), cause=evt)


async def project_bench_heartbeat(
    evt: BenchHeartbeat, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> None:
    """Refresh liveness and machine statuses; place waiting runs if the bench was offline or a machine
    recovered. A heartbeat of a bench never announced is ignored (its agent announces on start)."""
    now = clock()
    policy = Policy.from_settings(settings)
    bench = await inventory_repo.get_bench(uow.session, evt.bench_id)
    if bench is None:
        return
    previous = await inventory_repo.machine_statuses(uow.session, evt.bench_id)
    changed = {m: s for m, s in evt.machine_status.items() if m in previous and previous[m] != s}
    freed = not bench.online(now, policy.heartbeat_grace_factor) or any(
        _usable(s) and not _usable(previous[m]) for m, s in changed.items()
    )
    if freed:
        await begin_placement(uow)
    await inventory_repo.record_heartbeat(uow.session, evt.bench_id, evt.interval_s, now)
    metrics.BENCH_LAST_HEARTBEAT.labels(evt.bench_id).set(now.timestamp())
    for machine, status in changed.items():
        await inventory_repo.set_machine_status(uow.session, evt.bench_id, machine, status)
    if freed:
        await place_waiting_runs(uow, now=now, policy=policy, cause=evt)


async def project_bench_offline(evt: BenchOffline, uow: UnitOfWork, clock: Clock = utc_now) -> None:
    await inventory_repo.mark_offline(uow.session, evt.bench_id, evt.reason, clock())


async def project_machine_status(
    evt: MachineStatusChanged, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> None:
    previous = (await inventory_repo.machine_statuses(uow.session, evt.bench_id)).get(evt.machine)
    if previous is None or previous == evt.status:
        return
    recovered = _usable(evt.status) and not _usable(previous)
    if recovered:
        await begin_placement(uow)
    await inventory_repo.set_machine_status(uow.session, evt.bench_id, evt.machine, evt.status)
    if recovered:
        now = clock()
        await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings), cause=evt)


async def list_benches(
    q: ListBenches, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> BenchList:
    now = clock()
    grace = Policy.from_settings(settings).heartbeat_grace_factor
    rows = await inventory_repo.list_benches(uow.session)
    return BenchList(
        benches=[
            BenchState(
                bench_id=row.bench.bench_id,
                simulated=row.bench.simulated,
                online=row.bench.online(now, grace),
                last_heartbeat=row.bench.last_seen_at.isoformat(),
                machines=row.machines,
                correlation_id=q.correlation_id,
                causation_id=str(q.message_id),
            )
            for row in rows
        ],
        correlation_id=q.correlation_id,
        causation_id=str(q.message_id),
    )
