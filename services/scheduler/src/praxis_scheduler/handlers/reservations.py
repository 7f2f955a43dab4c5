"""Calendar bookings, the admin view and force-release, and the lease-expiry sweep."""

from __future__ import annotations

from praxis_contracts.base import ErrorReply, Query
from praxis_contracts.scheduler import (
    BookReservation,
    ForceReleaseReservation,
    LeaseExpired,
    ListReservations,
    ReservationInfo,
    ReservationList,
)
from praxis_scheduler.adapters import booking as booking_repo
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.adapters import runs as runs_repo
from praxis_scheduler.config import Settings
from praxis_scheduler.domain.policy import Policy
from praxis_scheduler.domain.reservations import Reservation, describe_holder
from praxis_scheduler.handlers.placement import begin_placement, place_waiting_runs
from praxis_scheduler.handlers.runs import publish_released
from praxis_scheduler.handlers.uow import Clock, UnitOfWork, UnitOfWorkFactory, utc_now

LEASE_SWEEP_INTERVAL_S = 5.0


def info(r: Reservation, q: Query | None = None) -> ReservationInfo:
    assert r.created_at is not None
    return ReservationInfo(
        id=r.id,
        asset_id=r.asset_id,
        owner_kind=r.owner_kind,
        owner=r.owner,
        purpose=r.purpose,
        starts_at=r.starts_at,
        ends_at=r.ends_at,
        created_at=r.created_at,
        released_at=r.released_at,
        release_reason=r.release_reason,
        correlation_id=q.correlation_id if q else None,
        causation_id=str(q.message_id) if q else None,
    )


def _error(q: Query, code: str, detail: str, data: dict[str, object] | None = None) -> ErrorReply:
    return ErrorReply(
        code=code, detail=detail, data=data or {}, correlation_id=q.correlation_id, causation_id=str(q.message_id)
    )


async def book_reservation(q: BookReservation, uow: UnitOfWork, clock: Clock = utc_now) -> ReservationInfo | ErrorReply:
    """Book an asset (a bench, a machine or a resource) for a window; everything below it is booked with it.
    A clash answers ``conflict`` naming the first conflicting reservation."""
    now = clock()
    if q.ends_at <= q.starts_at:
        return _error(q, "invalid", "a booking must end after it starts")
    if q.ends_at <= now:
        return _error(q, "invalid", "the booking window is already over")
    booking = booking_repo.Booking((q.asset_id,), q.starts_at, q.ends_at, "user", q.owner, q.purpose)
    try:
        # The booking is this query's only work, so a lost race may retry the whole transaction (no savepoint).
        rows = await booking_repo.book(uow.session, booking, now=now, savepoint=False)
    except booking_repo.UnknownAssets:
        return _error(q, "not_found", f"no bench has announced an asset {q.asset_id}")
    except booking_repo.BookingConflict as clash:
        first = clash.conflicting[0]
        return _error(
            q,
            "conflict",
            f"{first.asset_id} is {describe_holder(first)}",
            {
                "conflicting": info(first).model_dump(mode="json"),
                "all_conflicting": [info(c).model_dump(mode="json") for c in clash.conflicting],
            },
        )
    return info(rows[0], q)


async def list_reservations(q: ListReservations, uow: UnitOfWork, clock: Clock = utc_now) -> ReservationList:
    rows = await reservations_repo.list_reservations(
        uow.session, now=clock(), asset_id=q.asset_id, include_released=q.include_released
    )
    return ReservationList(
        reservations=[info(r) for r in rows], correlation_id=q.correlation_id, causation_id=str(q.message_id)
    )


async def force_release_reservation(
    q: ForceReleaseReservation, uow: UnitOfWork, clock: Clock = utc_now, settings: Settings | None = None
) -> ReservationInfo | ErrorReply:
    """Release a reservation (and the rows covering what lies below its asset) with a reason kept for audit;
    the freed assets go to waiting runs at once."""
    now = clock()
    if not q.reason.strip():
        return _error(q, "invalid", "a force-release needs a reason")
    await begin_placement(uow)
    existing = await reservations_repo.get(uow.session, q.reservation_id)
    if existing is None:
        return _error(q, "not_found", f"no reservation {q.reservation_id}")
    if not existing.active:
        return _error(
            q,
            "conflict",
            f"reservation {q.reservation_id} was already released ({existing.release_reason})",
            {"reservation": info(existing).model_dump(mode="json")},
        )
    reason = f"force-released by {q.by}: {q.reason}"
    released = await reservations_repo.release_principal(uow.session, existing, now=now, reason=reason, by=q.by)
    await reservations_repo.record_force_release(uow.session, released, reason=q.reason, by=q.by, now=now)
    publish_released(uow, released, q)
    await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings), cause=q)
    principal = next((r for r in released if r.id == q.reservation_id), released[0])
    return info(principal, q)


async def expire_leases(uow_factory: UnitOfWorkFactory, clock: Clock, settings: Settings | None = None) -> None:
    """Periodic: release the reservations of runs whose lease ran out, say so (``LeaseExpired`` per run and
    ``ReservationReleased`` per asset), and give the assets to waiting runs."""
    async with uow_factory() as uow:
        now = clock()
        await begin_placement(uow)
        expired = await reservations_repo.expire_leases(uow.session, now)
        if not expired:
            return
        by_run: dict[str, list[Reservation]] = {}
        for r in expired:
            by_run.setdefault(r.owner, []).append(r)
        await runs_repo.mark_lease_expired(uow.session, sorted(by_run))
        for run_id, rows in sorted(by_run.items()):
            uow.publish(
                LeaseExpired(
                    run_id=run_id,
                    asset_ids=sorted(r.asset_id for r in rows),
                    expired_at=max(r.ends_at for r in rows),
                    correlation_id=run_id,
                )
            )
        publish_released(uow, expired, None)
        await place_waiting_runs(uow, now=now, policy=Policy.from_settings(settings))
        await uow.commit()
