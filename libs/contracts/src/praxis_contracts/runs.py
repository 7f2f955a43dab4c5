"""Value objects about runs shared by scheduler, executor and gateway."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

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


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.REJECTED})


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
