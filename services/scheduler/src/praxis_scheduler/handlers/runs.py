"""Run lifecycle handlers: submission, start, finish and lease renewal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from praxis_contracts.executor import RunFinished, RunLeaseRenewed, RunStarted
from praxis_contracts.scheduler import ReservationReleased, RunQueued, SubmitRun
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.adapters import runs as runs_repo
from praxis_scheduler.config import Settings
from praxis_scheduler.domain.policy import Policy
from praxis_scheduler.domain.reservations import Reservation
from praxis_scheduler.handlers.placement import begin_placement, place_waiting_runs
from praxis_scheduler.handlers.uow import Clock, UnitOfWork, utc_now


async def submit_run(cmd: SubmitRun, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None) -> None:
    """Queue the run (once: a second SubmitRun for a known run id has no effect) and try to place it."""
    now = clock()
    await begin_placement(uow)
    if not await runs_repo.insert_submitted(uow.session, cmd, now):
        return
    uow.publish(
        RunQueued(
            run_id=cmd.run_id,
            protocol_id=cmd.protocol_id,
            protocol_name=cmd.protocol_name,
            source_hash=cmd.source_hash,
            function=cmd.function,
            parameters=cmd.parameters,
            simulate=cmd.simulate,
            priority=cmd.priority,
            submitted_by=cmd.submitted_by,
            submitted_role=cmd.submitted_role,
            correlation_id=cmd.correlation_id or cmd.run_id,
            causation_id=str(cmd.message_id),
        )
    )
    await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings), cause=cmd)


async def record_run_started(evt: RunStarted, uow: UnitOfWork) -> None:
    """Remember when the run really started: its duration feeds the protocol's estimate."""
    await runs_repo.mark_started(uow.session, evt.run_id, evt.occurred_at)


async def release_finished_run(
    evt: RunFinished, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> None:
    """A finished, failed or cancelled run leaves the queue and frees its assets at once. A run that finishes
    before it was ever scheduled (cancelled while queued, or events out of order) is never scheduled later."""
    now = clock()
    await begin_placement(uow)
    await runs_repo.mark_final(uow.session, evt.run_id, evt.status.value, evt.occurred_at)
    released = await reservations_repo.release_owner(
        uow.session, "run", evt.run_id, now=now, reason=f"run {evt.status.value}", by="executor"
    )
    publish_released(uow, released, evt)
    if released:
        await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings), cause=evt)


async def renew_run_lease(
    evt: RunLeaseRenewed, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> None:
    """Extend the run's live reservations to now + ``extend_s`` (never shortening, never into a booking)."""
    now = clock()
    await reservations_repo.renew_run(uow.session, evt.run_id, now + timedelta(seconds=evt.extend_s), now=now)


def publish_released(uow: UnitOfWork, released: list[Reservation], cause: Any) -> None:
    for r in released:
        uow.publish(
            ReservationReleased(
                reservation_id=r.id,
                asset_id=r.asset_id,
                run_id=r.owner if r.owner_kind == "run" else None,
                reason=r.release_reason or "released",
                correlation_id=r.owner if r.owner_kind == "run" else None,
                causation_id=str(cause.message_id) if cause is not None else None,
            )
        )
