"""The booking path: reservations that never double-book, all or nothing, for a set of assets or any one of several.

Booking follows the measured pattern described in docs/scheduler.md (Booking), in the caller's transaction
(a SAVEPOINT per attempt by default):

1. lock the asset rows in asset-id order (every booker of a multi-asset set locks in the same order, so
   bookers queue behind each other instead of deadlocking). ``FOR NO KEY UPDATE``: it conflicts with itself,
   which is all the serialisation bookers need, and leaves the foreign-key checks of reservation inserts alone;
2. re-check for overlapping active reservations in a *new* statement (under READ COMMITTED it sees what the
   previous lock holder committed; a single ``NOT EXISTS ... FOR UPDATE`` statement would not), fused with
   the insert: ``INSERT ... SELECT ... WHERE NOT EXISTS (overlap)``;
3. the exclusion constraint ``reservations_no_overlap`` stays the guarantee: if anything slips past
   the lock (a writer that does not lock), the insert fails with 23P01.

On 23P01 or a deadlock (40P01) the savepoint is rolled back and the attempt repeated after a jittered backoff;
a real overlap found by the re-check is a :class:`BookingConflict` and is never retried.

Covering: booking an asset also books every present asset below it (a bench's machines, a machine's deck), so
the per-asset exclusion constraint protects the hierarchy too. The covering rows point at the booked row
through ``principal_id``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_scheduler.adapters.errors import DEADLOCK_DETECTED, EXCLUSION_VIOLATION, sqlstate
from praxis_scheduler.domain.reservations import OwnerKind, Reservation

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 0.004
BACKOFF_CAP_S = 0.25


class BookingConflict(Exception):
    """The window overlaps active reservations (``conflicting``); retrying the same request cannot help."""

    def __init__(self, conflicting: list[Reservation]) -> None:
        super().__init__(f"{len(conflicting)} conflicting reservation(s)")
        self.conflicting = conflicting


class UnknownAssets(Exception):
    def __init__(self, asset_ids: list[str]) -> None:
        super().__init__(f"unknown asset(s): {', '.join(asset_ids)}")
        self.asset_ids = asset_ids


class _AllLocked(Exception):
    """``any_of``: free candidates exist but other bookers hold them all right now; try again shortly."""


class BookingGaveUp(Exception):
    """Deadlocks/exclusion races persisted through every attempt (the caller's unit of work should be retried)."""


@dataclass
class RetryStats:
    """Counts of the retry paths taken; tests and the benchmark read them."""

    exclusion: int = 0
    deadlock: int = 0
    all_locked: int = 0
    conflicts: int = 0
    booked: int = 0


STATS = RetryStats()
"""Process-wide counters (also what a metrics endpoint can expose)."""


def count(stats: RetryStats | None, name: str) -> None:
    for counter in {id(c): c for c in (stats, STATS) if c is not None}.values():
        setattr(counter, name, getattr(counter, name) + 1)


@dataclass(frozen=True)
class Booking:
    asset_ids: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    owner_kind: OwnerKind
    owner: str
    purpose: str = ""
    check_until: datetime | None = None
    """Refuse when anything overlaps ``[starts_at, check_until)`` although only the booked window is stored: a
    run holds a short lease but must not be started into a calendar booking its expected duration reaches."""
    any_of: bool = False
    """Book only one of ``asset_ids``: the first, in id order, that is free for the window and that no other
    booker is locking right now (``SKIP LOCKED``, as in docs/scheduler.md, Booking), rather than all of them."""


async def book(
    session: AsyncSession,
    booking: Booking,
    *,
    now: datetime,
    stats: RetryStats | None = None,
    savepoint: bool = True,
) -> list[Reservation]:
    """Book ``booking.asset_ids`` (and what they cover) all or nothing in the session's transaction; returns
    the rows, requested assets first.

    Raises :class:`BookingConflict`, :class:`UnknownAssets` or, after ``MAX_ATTEMPTS`` lost races,
    :class:`BookingGaveUp`. With ``savepoint`` (the default) each attempt runs in a SAVEPOINT, so the caller's
    earlier work survives a retry. ``savepoint=False`` is for a transaction whose only work is this booking (a
    calendar booking): it saves two round trips, and a lost race rolls the whole transaction back instead.
    """

    async def attempt() -> list[Reservation]:
        driver = await _driver(session)
        if not savepoint:
            return await _attempt(driver, booking, now)
        async with driver.transaction():  # nested in the session's transaction: a SAVEPOINT
            return await _attempt(driver, booking, now)

    return await _with_retries(attempt, booking, stats, None if savepoint else session.rollback)


async def book_on(
    conn: asyncpg.Connection, booking: Booking, *, now: datetime, stats: RetryStats | None = None
) -> list[Reservation]:
    """The same booking on a plain asyncpg connection that is not in a transaction: each attempt is one."""

    async def attempt() -> list[Reservation]:
        async with conn.transaction():
            return await _attempt(conn, booking, now)

    return await _with_retries(attempt, booking, stats, None)


async def _with_retries(
    attempt: Callable[[], Awaitable[list[Reservation]]],
    booking: Booking,
    stats: RetryStats | None,
    after_lost_race: Callable[[], Awaitable[None]] | None,
) -> list[Reservation]:
    """Repeat ``attempt`` after an exclusion violation (23P01), a deadlock (40P01) or (``any_of``) when every
    free candidate was locked by another booker, with jittered exponential backoff; a conflict found by the
    re-check is final."""
    if booking.ends_at <= booking.starts_at:
        raise ValueError("a reservation must end after it starts")
    for n in range(MAX_ATTEMPTS):
        try:
            rows = await attempt()
        except (sa.exc.DBAPIError, asyncpg.PostgresError) as exc:
            code = sqlstate(exc)
            if code not in (EXCLUSION_VIOLATION, DEADLOCK_DETECTED):
                raise
            if after_lost_race is not None:
                await after_lost_race()
            count(stats, "exclusion" if code == EXCLUSION_VIOLATION else "deadlock")
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**n)))
            continue
        except _AllLocked:
            count(stats, "all_locked")
            await asyncio.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**n)))
            continue
        except BookingConflict:
            count(stats, "conflicts")
            raise
        count(stats, "booked")
        return rows
    raise BookingGaveUp(f"booking {', '.join(booking.asset_ids)} lost {MAX_ATTEMPTS} races in a row")


_LOCK_SQL = """
    SELECT asset_id FROM scheduler.assets
    WHERE present AND (asset_id = ANY($1::text[]) OR bench_id = ANY($1::text[]) OR machine_asset_id = ANY($1::text[]))
    ORDER BY asset_id
    FOR NO KEY UPDATE
"""

# Re-check and insert in one statement: its snapshot is taken after the lock statement returned, so it sees
# whatever the previous lock holder committed (the "re-check in a new statement" of docs/scheduler.md, Booking),
# and it inserts every row or none.
_INSERT_IF_FREE_SQL = """
    INSERT INTO scheduler.reservations
        (id, asset_id, principal_id, during, owner_kind, owner, purpose, created_at)
    SELECT v.id, v.asset_id, v.principal_id, tstzrange($4, $5, '[)'), $7, $8, $9, $10
    FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, asset_id, principal_id)
    WHERE NOT EXISTS (
        SELECT 1 FROM scheduler.reservations r
        WHERE r.asset_id = ANY($2::text[]) AND r.released_at IS NULL AND r.during && tstzrange($4, $6, '[)'))
    RETURNING id
"""

# any_of: the first free candidate nobody else is booking (one statement picks and locks it), and whether
# anything lies below it (then its deck/machines are locked too, by _LOCK_SQL).
_PICK_SQL = """
    SELECT a.asset_id, EXISTS (
        SELECT 1 FROM scheduler.assets d
        WHERE d.present AND d.asset_id <> a.asset_id AND (d.bench_id = a.asset_id OR d.machine_asset_id = a.asset_id)
    ) AS covers
    FROM scheduler.assets a
    WHERE a.present AND a.asset_id = ANY($1::text[]) AND NOT EXISTS (
        SELECT 1 FROM scheduler.reservations r
        WHERE r.asset_id = a.asset_id AND r.released_at IS NULL AND r.during && tstzrange($2, $3, '[)'))
    ORDER BY a.asset_id LIMIT 1
    FOR NO KEY UPDATE OF a SKIP LOCKED
"""

# any_of, when nothing could be picked: each present candidate with its overlapping reservations (none = it is
# free but another booker holds its lock right now).
_CANDIDATES_SQL = """
    SELECT a.asset_id AS candidate, r.id, r.asset_id, r.owner_kind, r.owner, lower(r.during) AS starts_at,
           upper(r.during) AS ends_at, r.purpose, r.principal_id, r.created_at
    FROM scheduler.assets a
    LEFT JOIN scheduler.reservations r
      ON r.asset_id = a.asset_id AND r.released_at IS NULL AND r.during && tstzrange($2, $3, '[)')
    WHERE a.present AND a.asset_id = ANY($1::text[])
    ORDER BY a.asset_id
"""

_CONFLICTS_SQL = """
    SELECT id, asset_id, owner_kind, owner, lower(during) AS starts_at, upper(during) AS ends_at, purpose,
           principal_id, created_at
    FROM scheduler.reservations
    WHERE asset_id = ANY($1::text[]) AND released_at IS NULL AND during && tstzrange($2, $3, '[)')
    ORDER BY asset_id
"""


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection, once its transaction has begun.

    Booking is the scheduler's hottest write path; its statements go to asyncpg as prepared statements rather
    than through SQLAlchemy's execution layer (measured in ``bench/reservations.py``), still inside the
    session's transaction. SQLAlchemy's asyncpg adapter begins a transaction lazily with the first statement,
    so a fresh one is begun through the session first.
    """
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    if not driver.is_in_transaction():
        await session.execute(sa.text("SELECT 1"))
    return driver


async def _attempt(conn: asyncpg.Connection, booking: Booking, now: datetime) -> list[Reservation]:
    """One try: lock, then re-check-and-insert. Raises BookingConflict / UnknownAssets, or a Postgres error."""
    check_end = max(booking.ends_at, booking.check_until or booking.ends_at)
    requested = sorted(set(booking.asset_ids))
    if booking.any_of:
        requested, locked = await _pick(conn, requested, booking.starts_at, check_end)
    else:
        locked = [r[0] for r in await conn.fetch(_LOCK_SQL, requested)]
    missing = sorted(set(requested) - set(locked))
    if missing:
        raise UnknownAssets(missing)
    ids = {a: uuid.uuid4().hex for a in locked}
    principals = [ids[_principal(a, requested)] for a in locked]
    inserted = await conn.fetch(
        _INSERT_IF_FREE_SQL,
        [ids[a] for a in locked],
        locked,
        principals,
        booking.starts_at,
        booking.ends_at,
        check_end,
        booking.owner_kind,
        booking.owner,
        booking.purpose,
        now,
    )
    if not inserted:
        clashes = await conn.fetch(_CONFLICTS_SQL, locked, booking.starts_at, check_end)
        raise BookingConflict([Reservation(**dict(r)) for r in clashes])
    made = [
        Reservation(
            id=ids[a],
            asset_id=a,
            owner_kind=booking.owner_kind,
            owner=booking.owner,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            purpose=booking.purpose,
            principal_id=principal,
            created_at=now,
        )
        for a, principal in zip(locked, principals, strict=True)
    ]
    return sorted(made, key=lambda r: (r.asset_id not in requested, r.asset_id))


async def _pick(
    conn: asyncpg.Connection, candidates: list[str], start: datetime, end: datetime
) -> tuple[list[str], list[str]]:
    """``any_of``: lock one free candidate (and what lies below it); returns ([chosen], locked)."""
    row = await conn.fetchrow(_PICK_SQL, candidates, start, end)
    if row is None:
        states = await conn.fetch(_CANDIDATES_SQL, candidates, start, end)
        if not states:
            raise UnknownAssets(candidates)
        if any(s["id"] is None for s in states):
            raise _AllLocked
        clashes = [{k: v for k, v in s.items() if k != "candidate"} for s in states]
        raise BookingConflict([Reservation(**c) for c in clashes])
    chosen: str = row["asset_id"]
    if not row["covers"]:
        return [chosen], [chosen]
    return [chosen], [r[0] for r in await conn.fetch(_LOCK_SQL, [chosen])]


def _principal(asset_id: str, requested: Sequence[str]) -> str:
    """The requested asset that made ``asset_id`` part of the booking: itself, else its nearest ancestor."""
    if asset_id in requested:
        return asset_id
    return max((r for r in requested if asset_id.startswith(r + "/")), key=len)
