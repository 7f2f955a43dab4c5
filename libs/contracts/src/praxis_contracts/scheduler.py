"""Messages owned by the scheduler: run submission, placement decisions, reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from praxis_contracts.base import Command, Event, Query, Reply
from praxis_contracts.protocols import AssetRequirement
from praxis_contracts.runs import Assignment


class SubmitRun(Command):
    """Queue a run. ``requirements`` is the protocol's asset list as analysed, so the scheduler needs no lookup."""

    subject: ClassVar[str] = "praxis.scheduler.cmd.submit_run.v1"

    run_id: str
    protocol_id: str
    protocol_name: str
    source_hash: str
    function: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    requirements: list[AssetRequirement] = Field(default_factory=list)
    pins: dict[str, str] = Field(default_factory=dict, description="requirement name -> asset id")
    simulate: bool = True
    allow_real_hardware_in_simulation: bool = False
    priority: int = 0
    submitted_by: str = "anonymous"
    submitted_role: str = Field(default="", description="the submitter's role; the executor's sandbox policy uses it")
    estimated_duration_s: float | None = None


class RunQueued(Event):
    subject: ClassVar[str] = "praxis.scheduler.evt.run_queued.v1"

    run_id: str
    protocol_id: str
    protocol_name: str
    source_hash: str
    function: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    simulate: bool = True
    priority: int = 0
    submitted_by: str = "anonymous"
    submitted_role: str = ""


class RunScheduled(Event):
    """Assets are resolved and reserved; the executor may start the run."""

    subject: ClassVar[str] = "praxis.scheduler.evt.run_scheduled.v1"

    run_id: str
    protocol_id: str
    source_hash: str
    function: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    simulate: bool = True
    assignment: Assignment
    submitted_by: str = ""
    submitted_role: str = ""


class RunRejected(Event):
    """The run can never be placed as asked (or waited past its deadline); ``reason`` is for a scientist."""

    subject: ClassVar[str] = "praxis.scheduler.evt.run_rejected.v1"

    run_id: str
    reason: str


class RunWaiting(Event):
    """The run is placeable in principle but its assets are busy now; it starts as soon as they free up."""

    subject: ClassVar[str] = "praxis.scheduler.evt.run_waiting.v1"

    run_id: str
    reason: str


class ReservationReleased(Event):
    subject: ClassVar[str] = "praxis.scheduler.evt.reservation_released.v1"

    reservation_id: str
    asset_id: str
    run_id: str | None = None
    reason: str


class LeaseExpired(Event):
    subject: ClassVar[str] = "praxis.scheduler.evt.lease_expired.v1"

    run_id: str
    asset_ids: list[str]
    expired_at: datetime


class ReservationInfo(Reply):
    id: str
    asset_id: str
    owner_kind: str
    owner: str
    purpose: str = ""
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None


class QueueEntry(Reply):
    run_id: str
    protocol_name: str
    priority: int
    position: int
    status: str
    submitted_at: datetime
    eta: datetime | None = None
    why_waiting: str | None = None


class GetQueue(Query):
    subject: ClassVar[str] = "praxis.scheduler.qry.get_queue.v1"


class QueueReply(Reply):
    entries: list[QueueEntry]


class ListReservations(Query):
    subject: ClassVar[str] = "praxis.scheduler.qry.list_reservations.v1"

    asset_id: str | None = None
    include_released: bool = False


class ReservationList(Reply):
    reservations: list[ReservationInfo]


class BookReservation(Query):
    """A calendar booking by a user; answered with the reservation or ``ErrorReply(code="conflict")``."""

    subject: ClassVar[str] = "praxis.scheduler.qry.book_reservation.v1"

    asset_id: str
    owner: str
    purpose: str = ""
    starts_at: datetime
    ends_at: datetime


class ForceReleaseReservation(Query):
    subject: ClassVar[str] = "praxis.scheduler.qry.force_release_reservation.v1"

    reservation_id: str
    reason: str
    by: str = "admin"
