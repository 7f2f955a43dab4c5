"""Value objects about runs shared by scheduler, executor and gateway."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NEEDS_OPERATOR = "needs_operator"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def active(self) -> bool:
        """Placed and not finished: the run holds its assets and has an owning executor."""
        return self in ACTIVE_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.REJECTED})
ACTIVE_STATUSES = frozenset({RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.NEEDS_OPERATOR})

RecoveryChoice = Literal["happened", "retry", "abort"]
"""What an operator may decide for a parked run: the step *happened* (go on after it), *retry* it, or *abort*."""
RECOVERY_CHOICES: tuple[RecoveryChoice, ...] = get_args(RecoveryChoice)

ParkKind = Literal["unknown_outcome", "bench_unreachable", "divergence", "worker_crash"]
"""Why a run waits for an operator: a call whose outcome nobody knows, a bench that stopped answering, a replay
that did not match the journal (the protocol is not deterministic), or a worker that keeps crashing."""

RunAction = Literal["cancel", "pause", "resume", "recover"]


class Parked(BaseModel):
    """A run in ``needs_operator``: the step it stopped at, why, and the choices that resume or end it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    step: int = Field(description="the machine call (journal step) the run is parked at")
    kind: ParkKind
    reason: str
    choices: list[RecoveryChoice]


def refusal(status: RunStatus, action: RunAction, *, pause_requested: bool = False) -> str | None:
    """Why a run in ``status`` cannot take ``action`` (None: it can). One rule for the executor, which enforces
    it, and for the gateway, which answers 409 with it before sending a command."""
    if status.terminal:
        return f"the run is {status.value}; a finished run takes no more commands"
    if action == "cancel":
        return None
    if action == "pause":
        if status == RunStatus.PAUSED or pause_requested:
            return "the run is already paused (or pausing)"
        return None if status in (RunStatus.STARTING, RunStatus.RUNNING) else f"a {status.value} run cannot be paused"
    if action == "resume":
        if status == RunStatus.PAUSED or (status in (RunStatus.STARTING, RunStatus.RUNNING) and pause_requested):
            return None
        return f"the run is {status.value}, not paused"
    if status != RunStatus.NEEDS_OPERATOR:
        return f"the run is {status.value}; only a run that needs an operator can be recovered"
    return None


class AssetAssignment(BaseModel):
    """One requirement resolved to a concrete asset: a machine on a bench, or a resource on a machine's deck."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    requirement: str = Field(description="the protocol parameter name")
    kind: Literal["machine", "resource"]
    bench_id: str
    machine: str = Field(description="machine name on the bench (for a resource: the machine whose deck holds it)")
    resource: str | None = Field(default=None, description="resource name (resources only)")
    plr_type: str = ""
    simulated: bool = True
    asset_id: str = Field(default="", description="'<bench>/<machine>' or '<bench>/<machine>/<resource>'")


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    assets: list[AssetAssignment] = Field(default_factory=list)
    reservation_ids: list[str] = Field(default_factory=list)
    lease_expires_at: datetime | None = None

    @property
    def bench_ids(self) -> list[str]:
        return sorted({a.bench_id for a in self.assets})
