"""A run as the scheduler keeps it: the queue entry and what it remembers after the run is placed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from praxis_contracts.protocols import AssetRequirement
from praxis_scheduler.domain.matching import RunRequest
from praxis_scheduler.domain.queue import QueuedRun

QUEUED = "queued"
SCHEDULED = "scheduled"
RUNNING = "running"
REJECTED = "rejected"
LEASE_EXPIRED = "lease_expired"
ACTIVE = frozenset({SCHEDULED, RUNNING})
"""Statuses holding assets. Every other status but ``queued`` is final for the scheduler."""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    seq: int
    status: str
    submitted_at: datetime
    protocol_id: str = ""
    protocol_name: str = ""
    source_hash: str = ""
    function: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    requirements: tuple[AssetRequirement, ...] = ()
    pins: dict[str, str] = field(default_factory=dict)
    simulate: bool = True
    allow_real_hardware: bool = False
    priority: int = 0
    submitted_by: str = "anonymous"
    submitted_role: str = ""
    estimated_duration_s: float | None = None
    correlation_id: str | None = None
    why_waiting: str | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.status not in ACTIVE and self.status != QUEUED

    def request(self) -> RunRequest:
        return RunRequest(self.run_id, self.requirements, dict(self.pins), self.simulate, self.allow_real_hardware)

    def queued(self) -> QueuedRun:
        return QueuedRun(self.run_id, self.priority, self.seq, self.submitted_at)
