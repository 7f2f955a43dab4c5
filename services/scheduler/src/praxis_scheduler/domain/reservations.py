"""Reservations as values: who holds an asset for which window, and how to say so to a person."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OwnerKind = Literal["run", "user"]


@dataclass(frozen=True)
class Reservation:
    """One reservation row. Windows are half-open ``[starts_at, ends_at)``; for a run, ``ends_at`` is the
    lease expiry. ``principal_id`` is the reservation of the asset that was asked for; rows covering the
    assets below it (a machine's deck) point at it."""

    id: str
    asset_id: str
    owner_kind: OwnerKind
    owner: str
    starts_at: datetime
    ends_at: datetime
    purpose: str = ""
    principal_id: str = ""
    created_at: datetime | None = None
    released_at: datetime | None = None
    release_reason: str | None = None
    released_by: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.active and self.starts_at < end and start < self.ends_at


def short_id(run_id: str) -> str:
    """The first 8 characters of a run id: enough to tell runs apart in a sentence."""
    return run_id[:8]


def hhmm(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def describe_holder(reservation: Reservation) -> str:
    """'reserved by run 4f2c1a9b until 2024-05-01 14:30 UTC' / "booked by alice (calibration) until ..."."""
    until = hhmm(reservation.ends_at)
    if reservation.owner_kind == "run":
        return f"reserved by run {short_id(reservation.owner)} until {until}"
    purpose = f" ({reservation.purpose})" if reservation.purpose else ""
    return f"booked by {reservation.owner}{purpose} from {hhmm(reservation.starts_at)} until {until}"


def index_by_asset(reservations: Iterable[Reservation]) -> dict[str, list[Reservation]]:
    by_asset: dict[str, list[Reservation]] = {}
    for r in reservations:
        by_asset.setdefault(r.asset_id, []).append(r)
    return by_asset


def blocking(
    by_asset: Mapping[str, list[Reservation]],
    asset_ids: Iterable[str],
    start: datetime,
    end: datetime,
    owner: str | None = None,
) -> list[Reservation]:
    """Active reservations of any of ``asset_ids`` overlapping ``[start, end)`` not held by ``owner``."""
    found = [r for a in asset_ids for r in by_asset.get(a, ()) if r.overlaps(start, end) and r.owner != owner]
    return sorted(found, key=lambda r: (r.starts_at, r.asset_id))
