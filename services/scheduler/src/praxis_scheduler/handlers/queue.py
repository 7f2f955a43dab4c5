"""The queue view: runs holding assets first, then waiting runs in the order they will be tried, with ETAs."""

from __future__ import annotations

from datetime import datetime, timedelta

from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply
from praxis_scheduler.adapters import inventory as inventory_repo
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.adapters import runs as runs_repo
from praxis_scheduler.config import Settings
from praxis_scheduler.domain.inventory import Inventory
from praxis_scheduler.domain.policy import Policy
from praxis_scheduler.domain.queue import EtaRequest, Interval, estimate_etas, queue_order
from praxis_scheduler.domain.resolution import structural_candidates
from praxis_scheduler.domain.runs import RunRecord
from praxis_scheduler.handlers.placement import Durations
from praxis_scheduler.handlers.uow import Clock, UnitOfWork, utc_now

FAR = timedelta(days=365)


async def get_queue(
    q: GetQueue, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> QueueReply:
    """Position 0 = holding assets (scheduled or running); 1.. = waiting, in placement order. ``eta`` of a
    waiting run is its estimated start (see :func:`~praxis_scheduler.domain.queue.estimate_etas`)."""
    now = clock()
    policy = Policy.from_settings(settings)
    session = uow.session
    durations = Durations(uow, policy)
    active = await runs_repo.active(session)
    waiting = {r.run_id: r for r in await runs_repo.queued(session)}
    ordered = [waiting[w.run_id] for w in queue_order((r.queued() for r in waiting.values()), now, policy.aging_step_s)]
    inventory = await inventory_repo.load_inventory(session, now, policy.heartbeat_grace_factor)
    busy = await _busy(uow, active, now, durations)
    requests = [EtaRequest(r.run_id, _candidates(r, inventory), await durations.of(r)) for r in ordered]
    etas = estimate_etas(requests, busy, inventory.covered, now)
    trace = {"correlation_id": q.correlation_id, "causation_id": str(q.message_id)}
    entries = [
        QueueEntry(
            run_id=r.run_id,
            protocol_name=r.protocol_name,
            priority=r.priority,
            position=0,
            status=r.status,
            submitted_at=r.submitted_at,
            eta=r.started_at or r.scheduled_at,
            **trace,
        )
        for r in active
    ]
    entries += [
        QueueEntry(
            run_id=r.run_id,
            protocol_name=r.protocol_name,
            priority=r.priority,
            position=i,
            status=r.status,
            submitted_at=r.submitted_at,
            eta=etas.get(r.run_id),
            why_waiting=r.why_waiting,
            **trace,
        )
        for i, r in enumerate(ordered, start=1)
    ]
    return QueueReply(entries=entries, **trace)


async def _busy(
    uow: UnitOfWork, active: list[RunRecord], now: datetime, durations: Durations
) -> dict[str, list[Interval]]:
    """Busy intervals per asset. A run's lease is short and renewed, so a running run is expected to hold its
    assets until its start plus its estimated duration (at least until the lease ends)."""
    expected_end = {}
    for run in active:
        began = run.started_at or run.scheduled_at or now
        expected_end[run.run_id] = began + await durations.of(run)
    busy: dict[str, list[Interval]] = {}
    for r in await reservations_repo.active_overlapping(uow.session, now, now + FAR):
        end = max(r.ends_at, expected_end.get(r.owner, r.ends_at)) if r.owner_kind == "run" else r.ends_at
        busy.setdefault(r.asset_id, []).append((r.starts_at, end))
    return busy


def _candidates(run: RunRecord, inventory: Inventory) -> tuple[tuple[str, ...], ...]:
    """Per required requirement, the online assets that could serve it (empty when none: no ETA)."""
    options = []
    for req in run.requirements:
        if req.optional:
            continue
        found = structural_candidates(req, run.request(), inventory)
        if isinstance(found, str):
            return ((),)
        options.append(tuple(a.asset_id for a in found if inventory.is_online(a)))
    return tuple(options)
