"""Reservation reads and the other writes: release (by owner, by id, lease expiry), renewal, the audit trail.

Booking lives in :mod:`praxis_scheduler.adapters.booking`; a renewal locks asset rows first like a booking, so
a renewal and a booking of the same gap cannot both succeed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_scheduler.adapters.booking import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    MAX_ATTEMPTS,
    BookingGaveUp,
    RetryStats,
    count,
)
from praxis_scheduler.adapters.errors import DEADLOCK_DETECTED, EXCLUSION_VIOLATION, sqlstate
from praxis_scheduler.db.tables import assets, force_releases, reservations
from praxis_scheduler.domain.reservations import OwnerKind, Reservation

_COLUMNS = (
    reservations.c.id,
    reservations.c.asset_id,
    reservations.c.principal_id,
    reservations.c.during,
    reservations.c.owner_kind,
    reservations.c.owner,
    reservations.c.purpose,
    reservations.c.created_at,
    reservations.c.released_at,
    reservations.c.release_reason,
    reservations.c.released_by,
)


def to_reservation(row: Any) -> Reservation:
    m = row._mapping
    during: Range[datetime] = m["during"]
    assert during.lower is not None and during.upper is not None
    return Reservation(
        id=m["id"],
        asset_id=m["asset_id"],
        owner_kind=m["owner_kind"],
        owner=m["owner"],
        starts_at=during.lower,
        ends_at=during.upper,
        purpose=m["purpose"],
        principal_id=m["principal_id"],
        created_at=m["created_at"],
        released_at=m["released_at"],
        release_reason=m["release_reason"],
        released_by=m["released_by"],
    )


async def active_overlapping(session: AsyncSession, start: datetime, end: datetime) -> list[Reservation]:
    result = await session.execute(
        sa.select(*_COLUMNS).where(
            reservations.c.released_at.is_(None),
            reservations.c.during.overlaps(Range(start, end, bounds="[)")),
        )
    )
    return [to_reservation(r) for r in result]


async def active_for_owner(session: AsyncSession, owner_kind: OwnerKind, owner: str) -> list[Reservation]:
    result = await session.execute(
        sa.select(*_COLUMNS).where(
            reservations.c.owner_kind == owner_kind,
            reservations.c.owner == owner,
            reservations.c.released_at.is_(None),
        )
    )
    return [to_reservation(r) for r in result]


async def get(session: AsyncSession, reservation_id: str) -> Reservation | None:
    row = (await session.execute(sa.select(*_COLUMNS).where(reservations.c.id == reservation_id))).first()
    return to_reservation(row) if row is not None else None


async def list_reservations(
    session: AsyncSession,
    *,
    now: datetime,
    asset_id: str | None = None,
    include_released: bool = False,
    limit: int = 1000,
) -> list[Reservation]:
    """Current and future reservations (and, when asked, released and past ones), by start time."""
    query = sa.select(*_COLUMNS)
    if asset_id is not None:
        query = query.where(reservations.c.asset_id == asset_id)
    if not include_released:
        query = query.where(reservations.c.released_at.is_(None), reservations.c.expires_at > now)
    query = query.order_by(sa.func.lower(reservations.c.during), reservations.c.asset_id).limit(limit)
    return [to_reservation(r) for r in await session.execute(query)]


async def release(
    session: AsyncSession, where: sa.ColumnElement[bool], *, now: datetime, reason: str, by: str
) -> list[Reservation]:
    """Release the active reservations matching ``where``; returns them as released."""
    result = await session.execute(
        sa.update(reservations)
        .where(where, reservations.c.released_at.is_(None))
        .values(released_at=now, release_reason=reason, released_by=by)
        .returning(*_COLUMNS)
    )
    return sorted((to_reservation(r) for r in result), key=lambda r: r.asset_id)


async def release_owner(
    session: AsyncSession, owner_kind: OwnerKind, owner: str, *, now: datetime, reason: str, by: str
) -> list[Reservation]:
    where = sa.and_(reservations.c.owner_kind == owner_kind, reservations.c.owner == owner)
    return await release(session, where, now=now, reason=reason, by=by)


async def release_principal(
    session: AsyncSession, principal: Reservation, *, now: datetime, reason: str, by: str
) -> list[Reservation]:
    """Release a reservation and the rows covering the assets below it (same owner, pointing at it; found
    through the owner index, so no index on ``principal_id`` slows every booking down)."""
    where = sa.and_(
        reservations.c.owner_kind == principal.owner_kind,
        reservations.c.owner == principal.owner,
        sa.or_(reservations.c.id == principal.id, reservations.c.principal_id == principal.id),
    )
    return await release(session, where, now=now, reason=reason, by=by)


async def record_force_release(
    session: AsyncSession, released: Sequence[Reservation], *, reason: str, by: str, now: datetime
) -> None:
    if not released:
        return
    await session.execute(
        sa.insert(force_releases),
        [
            {
                "reservation_id": r.id,
                "asset_id": r.asset_id,
                "owner_kind": r.owner_kind,
                "owner": r.owner,
                "reason": reason,
                "released_by": by,
                "released_at": now,
            }
            for r in released
        ],
    )


async def expire_leases(session: AsyncSession, now: datetime) -> list[Reservation]:
    """Release every run reservation whose lease ran out (``upper(during) <= now``)."""
    where = sa.and_(reservations.c.owner_kind == "run", reservations.c.expires_at <= now)
    return await release(session, where, now=now, reason="lease expired", by="scheduler")


async def renew_run(
    session: AsyncSession, run_id: str, new_end: datetime, *, now: datetime, stats: RetryStats | None = None
) -> list[Reservation]:
    """Extend the run's live reservations to ``new_end``, but never into the next reservation of the asset (a
    calendar booking wins: the lease then ends where the booking starts). Leases already expired stay expired.
    Locks the asset rows first, like a booking, so a renewal and a booking of the gap cannot both succeed."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            async with session.begin_nested():
                return await _renew_once(session, run_id, new_end, now)
        except sa.exc.DBAPIError as exc:
            code = sqlstate(exc)
            if code not in (EXCLUSION_VIOLATION, DEADLOCK_DETECTED):
                raise
            count(stats, "exclusion" if code == EXCLUSION_VIOLATION else "deadlock")
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
    raise BookingGaveUp(f"renewing the lease of run {run_id} lost {MAX_ATTEMPTS} races in a row")


async def _renew_once(session: AsyncSession, run_id: str, new_end: datetime, now: datetime) -> list[Reservation]:
    live = sa.and_(
        reservations.c.owner_kind == "run",
        reservations.c.owner == run_id,
        reservations.c.released_at.is_(None),
        reservations.c.expires_at > now,
    )
    held = sa.select(reservations.c.asset_id).where(live).scalar_subquery()
    await session.execute(
        sa.select(assets.c.asset_id)
        .where(assets.c.asset_id.in_(held))
        .order_by(assets.c.asset_id)
        .with_for_update(key_share=True)
    )
    mine = reservations
    other = reservations.alias("other")
    until = sa.cast(new_end, sa.DateTime(timezone=True))
    next_start = (
        sa.select(sa.func.min(sa.func.lower(other.c.during)))
        .where(
            other.c.asset_id == mine.c.asset_id,
            other.c.released_at.is_(None),
            other.c.id != mine.c.id,
            sa.func.lower(other.c.during) >= sa.func.upper(mine.c.during),
        )
        .scalar_subquery()
    )
    target = sa.func.greatest(sa.func.upper(mine.c.during), sa.func.least(until, sa.func.coalesce(next_start, until)))
    result = await session.execute(
        sa.update(mine)
        .where(live)
        .values(during=sa.func.tstzrange(sa.func.lower(mine.c.during), target, "[)"))
        .returning(*_COLUMNS)
    )
    return [to_reservation(r) for r in result]
