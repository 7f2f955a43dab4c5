"""Reservations: list, book a calendar window (409 with the clashing one), force-release (admin, with reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from praxis_contracts.scheduler import (
    BookReservation,
    ForceReleaseReservation,
    ListReservations,
    ReservationInfo,
    ReservationList,
)
from praxis_gateway.api.deps import AdminUser, BusDep, CurrentUser
from praxis_gateway.api.schemas import ReleaseBody, ReservationCreate, ReservationOut, ReservationsOut
from praxis_gateway.errors import ApiError

router = APIRouter(prefix="/reservations", tags=["reservations"])


@router.get("", response_model=ReservationsOut)
async def read_reservations(
    bus: BusDep, asset_id: str | None = None, include_released: bool = False
) -> ReservationList:
    """List reservations, optionally for one asset and including released ones."""
    return await bus.ask(ListReservations(asset_id=asset_id, include_released=include_released), ReservationList)


@router.post(
    "",
    status_code=201,
    response_model=ReservationOut,
    responses={409: {"description": "the window clashes; the body names the conflicting reservation"}},
)
async def create_reservation(bus: BusDep, user: CurrentUser, body: ReservationCreate) -> ReservationInfo:
    """Book an asset for a time window."""
    query = BookReservation(
        asset_id=body.asset_id, owner=user.name, purpose=body.purpose, starts_at=body.starts_at, ends_at=body.ends_at
    )
    return await bus.ask(query, ReservationInfo)


@router.delete("/{reservation_id}", response_model=ReservationOut)
async def delete_reservation(
    bus: BusDep,
    admin: AdminUser,
    reservation_id: str,
    body: Annotated[ReleaseBody | None, Body()] = None,
    reason: str | None = None,
) -> ReservationInfo:
    """Force-release a reservation (admin; a reason is required and kept for audit)."""
    why = ((body.reason if body else None) or reason or "").strip()
    if not why:
        raise ApiError(422, "a reason is required to force-release a reservation", parameter="reason")
    query = ForceReleaseReservation(reservation_id=reservation_id, reason=why, by=admin.name)
    return await bus.ask(query, ReservationInfo)
