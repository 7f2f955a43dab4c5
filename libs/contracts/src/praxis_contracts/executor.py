"""Messages owned by the executor: run control commands and the run's event stream.

Every run event carries ``run_id`` and a per-run ``seq`` (1, 2, 3, ... with no gaps) so a WebSocket client can
resume after reconnecting with ``?after=<seq>`` and miss nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from praxis_contracts.base import Command, Event, Query, Reply
from praxis_contracts.runs import Assignment, RunStatus


class CancelRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.cancel_run.v1"

    run_id: str
    reason: str = "cancelled by user"


class PauseRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.pause_run.v1"

    run_id: str


class ResumeRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.resume_run.v1"

    run_id: str


class RunEvent(Event):
    run_id: str
    seq: int


class RunStatusChanged(RunEvent):
    subject: ClassVar[str] = "praxis.executor.evt.run_status_changed.v1"

    status: RunStatus
    reason: str | None = None


class RunStarted(RunEvent):
    subject: ClassVar[str] = "praxis.executor.evt.run_started.v1"

    assignment: Assignment
    worker_pid: int | None = None


class StepCompleted(RunEvent):
    """One machine call, journaled: what was asked, what came back, how long it took."""

    subject: ClassVar[str] = "praxis.executor.evt.step_completed.v1"

    step: int
    bench_id: str
    machine: str
    method: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    duration_ms: float
    state_diff: dict[str, Any] = Field(default_factory=dict)


class RunFinished(RunEvent):
    subject: ClassVar[str] = "praxis.executor.evt.run_finished.v1"

    status: RunStatus
    error: str | None = None
    traceback: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)


class RunLeaseRenewed(Event):
    """The executor still runs ``run_id``; the scheduler extends the run's reservations."""

    subject: ClassVar[str] = "praxis.executor.evt.run_lease_renewed.v1"

    run_id: str
    extend_s: float = 120.0


class GetRun(Query):
    subject: ClassVar[str] = "praxis.executor.qry.get_run.v1"

    run_id: str


class RunDetail(Reply):
    id: str
    protocol_id: str
    protocol_name: str = ""
    status: RunStatus
    parameters: dict[str, Any] = Field(default_factory=dict)
    simulate: bool = True
    assignment: Assignment | None = None
    steps: list[StepCompleted] = Field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None


class ListRuns(Query):
    subject: ClassVar[str] = "praxis.executor.qry.list_runs.v1"

    status: RunStatus | None = None
    limit: int = 100


class RunSummary(Reply):
    id: str
    protocol_id: str
    protocol_name: str = ""
    status: RunStatus
    created_at: str | None = None
    updated_at: str | None = None


class RunList(Reply):
    runs: list[RunSummary]


class GetRunEvents(Query):
    subject: ClassVar[str] = "praxis.executor.qry.get_run_events.v1"

    run_id: str
    after: int = 0
    limit: int = 1000


class RunEventEnvelope(Reply):
    """One stored run event: its class name and its JSON, as published."""

    seq: int
    type: str
    event: dict[str, Any]


class RunEventPage(Reply):
    run_id: str
    events: list[RunEventEnvelope]
    last_seq: int
