"""The placement pass: try every queued run in queue order and schedule those whose assets are free.

It runs inline in every handler that can free assets or add runs (submission, run finished, lease expiry,
force-release, a bench coming online or a machine recovering), so a waiting run starts as soon as its assets
are free, without a polling tick. Passes are serialised by a transaction-level advisory lock; a handler that
runs one takes that lock *before* touching run or asset rows (see :func:`begin_placement`), so two passes, or
a pass and such a handler, never wait on each other in opposite orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from praxis_contracts.base import Message
from praxis_contracts.runs import Assignment
from praxis_contracts.scheduler import RunRejected, RunScheduled, RunWaiting
from praxis_scheduler.adapters import booking as booking_repo
from praxis_scheduler.adapters import inventory as inventory_repo
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.adapters import runs as runs_repo
from praxis_scheduler.domain.inventory import Inventory
from praxis_scheduler.domain.policy import Policy
from praxis_scheduler.domain.queue import estimate_duration, queue_order
from praxis_scheduler.domain.reservations import Reservation, index_by_asset
from praxis_scheduler.domain.resolution import Availability, Impossible, Placed, Waiting, assignment_for, resolve
from praxis_scheduler.domain.runs import RunRecord
from praxis_scheduler.handlers.uow import UnitOfWork

BOOKING_ROUNDS = 3


async def begin_placement(uow: UnitOfWork) -> None:
    """Take the placement lock; call first in a handler that will run :func:`place_waiting_runs`."""
    await runs_repo.lock_placement(uow.session)


class Durations:
    """Duration estimates per run, reading each protocol's history at most once per pass."""

    def __init__(self, uow: UnitOfWork, policy: Policy) -> None:
        self._uow = uow
        self._policy = policy
        self._history: dict[str, list[float]] = {}

    async def of(self, run: RunRecord) -> timedelta:
        if run.estimated_duration_s is None and run.protocol_id not in self._history:
            self._history[run.protocol_id] = await runs_repo.duration_history(
                self._uow.session, run.protocol_id, self._policy.duration_history
            )
        seconds = estimate_duration(
            run.estimated_duration_s, self._history.get(run.protocol_id, []), self._policy.default_duration_s
        )
        return timedelta(seconds=seconds)


@dataclass
class _Pass:
    uow: UnitOfWork
    now: datetime
    policy: Policy
    inventory: Inventory
    active: list[Reservation]
    cause: Message | None
    held: dict[str, str] = field(default_factory=dict)
    scheduled: list[str] = field(default_factory=list)


async def place_waiting_runs(
    uow: UnitOfWork, *, now: datetime, policy: Policy, cause: Message | None = None
) -> list[str]:
    """Schedule what can be scheduled now; returns the ids of the runs scheduled. Caller holds the lock."""
    session = uow.session
    waiting = {r.run_id: r for r in await runs_repo.queued(session, lock=True)}
    if not waiting:
        return []
    durations = Durations(uow, policy)
    needs = {run_id: max(policy.lease, await durations.of(run)) for run_id, run in waiting.items()}
    inventory = await inventory_repo.load_inventory(session, now, policy.heartbeat_grace_factor)
    horizon = now + max(needs.values())
    state = _Pass(uow, now, policy, inventory, await reservations_repo.active_overlapping(session, now, horizon), cause)
    for queued in queue_order((r.queued() for r in waiting.values()), now, policy.aging_step_s):
        await _place(state, waiting[queued.run_id], needs[queued.run_id])
    return state.scheduled


async def _place(state: _Pass, run: RunRecord, needed: timedelta) -> None:
    reason = "its assets were taken by concurrent bookings; it will be retried"
    for _ in range(BOOKING_ROUNDS):
        availability = Availability(state.now, state.now + needed, index_by_asset(state.active), state.held)
        outcome = resolve(run.request(), state.inventory, availability)
        if isinstance(outcome, Impossible):
            await _reject(state, run, outcome.reason)
            return
        if isinstance(outcome, Waiting):
            for asset_id in outcome.tentative:
                for covered in state.inventory.covered(asset_id):
                    state.held.setdefault(covered, run.run_id)
            await _wait(state, run, outcome.reason)
            return
        try:
            rows = await booking_repo.book(
                state.uow.session,
                booking_repo.Booking(
                    outcome.alternatives or tuple(outcome.asset_ids),
                    state.now,
                    state.now + state.policy.lease,
                    "run",
                    run.run_id,
                    purpose=f"run {run.run_id[:8]} ({run.protocol_name or run.protocol_id})",
                    check_until=state.now + needed,
                    any_of=bool(outcome.alternatives),
                ),
                now=state.now,
            )
        except booking_repo.BookingConflict as clash:
            state.active.extend(clash.conflicting)
            continue
        except (booking_repo.UnknownAssets, booking_repo.BookingGaveUp):
            break
        state.active.extend(rows)
        if outcome.alternatives:  # the booking took the first free alternative nobody else was booking
            chosen = state.inventory.assets[rows[0].asset_id]
            outcome = Placed((assignment_for(outcome.assets[0].requirement, chosen),))
        await _schedule(state, run, outcome, rows)
        return
    await _wait(state, run, reason)


def _trace(state: _Pass, run: RunRecord) -> dict[str, str | None]:
    causation = str(state.cause.message_id) if state.cause is not None else None
    return {"correlation_id": run.correlation_id or run.run_id, "causation_id": causation}


async def _schedule(state: _Pass, run: RunRecord, placed: Placed, rows: list[Reservation]) -> None:
    assignment = Assignment(
        assets=list(placed.assets),
        reservation_ids=[r.id for r in rows],
        lease_expires_at=state.now + state.policy.lease,
    )
    await runs_repo.mark_scheduled(state.uow.session, run.run_id, assignment, state.now)
    state.uow.publish(
        RunScheduled(
            run_id=run.run_id,
            protocol_id=run.protocol_id,
            source_hash=run.source_hash,
            function=run.function,
            parameters=run.parameters,
            simulate=run.simulate,
            assignment=assignment,
            submitted_by=run.submitted_by,
            submitted_role=run.submitted_role,
            **_trace(state, run),
        )
    )
    state.scheduled.append(run.run_id)


async def _reject(state: _Pass, run: RunRecord, reason: str) -> None:
    await runs_repo.mark_rejected(state.uow.session, run.run_id, reason, state.now)
    state.uow.publish(RunRejected(run_id=run.run_id, reason=reason, **_trace(state, run)))


async def _wait(state: _Pass, run: RunRecord, reason: str) -> None:
    """Record why the run waits; announce it only when the reason changed (passes are frequent)."""
    if reason == run.why_waiting:
        return
    await runs_repo.set_why_waiting(state.uow.session, run.run_id, reason)
    state.uow.publish(RunWaiting(run_id=run.run_id, reason=reason, **_trace(state, run)))
