"""Messages owned by the executor: run control commands and the run's event stream.

Every run event carries ``run_id`` and a per-run ``seq`` (1, 2, 3, ... with no gaps) so a WebSocket client can
resume after reconnecting with ``?after=<seq>`` and miss nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from praxis_contracts.base import Command, Event, Query, Reply
from praxis_contracts.runs import Assignment, Parked, RecoveryChoice, RunAction, RunStatus


class CancelRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.cancel_run.v1"

    run_id: str
    reason: str = "cancelled by user"
    requested_by: str = ""


class PauseRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.pause_run.v1"

    run_id: str
    requested_by: str = ""


class ResumeRun(Command):
    subject: ClassVar[str] = "praxis.executor.cmd.resume_run.v1"

    run_id: str
    requested_by: str = ""


class RecoverRun(Command):
    """An operator's decision for a parked (``needs_operator``) run; ``choice`` must be one the run offers."""

    subject: ClassVar[str] = "praxis.executor.cmd.recover_run.v1"

    run_id: str
    choice: RecoveryChoice
    requested_by: str = ""


class RunEvent(Event):
    run_id: str
    seq: int


class RunStatusChanged(RunEvent):
    subject: ClassVar[str] = "praxis.executor.evt.run_status_changed.v1"

    status: RunStatus
    reason: str | None = None
    parked: Parked | None = Field(default=None, description="set when the run parks in needs_operator")


class RunControlRequested(RunEvent):
    """Someone asked an active run to change course; the run's owning executor carries it to the worker.

    Every executor replica hears this event; only the owner acts on it (the request is also kept in the run's
    row, so an owner that missed the event still applies it at its next lease renewal).
    """

    subject: ClassVar[str] = "praxis.executor.evt.run_control_requested.v1"

    action: RunAction
    requested_by: str = ""
    owner: str | None = Field(default=None, description="the executor instance that owns the run")
    detail: str = ""


class RunRecovering(RunEvent):
    """A new worker took the run over and replays its journal: after a crash, a hand-over or an operator's choice."""

    subject: ClassVar[str] = "praxis.executor.evt.run_recovering.v1"

    owner: str
    epoch: int = Field(description="the worker generation; machine calls of older generations are refused")
    journaled_steps: int = Field(description="steps answered from the journal without touching an instrument")
    reason: str


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
    replayed: bool = Field(
        default=False, description="the bench answered from its record of this call; the instrument did not act again"
    )


class RunFinished(RunEvent):
    subject: ClassVar[str] = "praxis.executor.evt.run_finished.v1"

    status: RunStatus
    error: str | None = None
    traceback: str | None = None
    outputs: dict[str, Any] = Field(
        default_factory=dict, description="inline only when small (outputs_inline); else fetch them by run id"
    )
    outputs_size: int = Field(default=0, description="size of the outputs as JSON, in bytes")
    outputs_inline: bool = True


class RunLeaseRenewed(Event):
    """The executor still runs ``run_id``; the scheduler extends the run's reservations."""

    subject: ClassVar[str] = "praxis.executor.evt.run_lease_renewed.v1"

    run_id: str
    extend_s: float = 120.0


class GetRun(Query):
    """A run with one page of its journal: steps after ``steps_after``, at most ``steps_limit`` of them."""

    subject: ClassVar[str] = "praxis.executor.qry.get_run.v1"

    run_id: str
    steps_after: int = 0
    steps_limit: int = 500


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
    parked: Parked | None = None
    owner: str | None = Field(default=None, description="the executor instance driving the run")
    cancel_requested: bool = False
    pause_requested: bool = False
    steps_total: int = Field(default=0, description="journal length; ``steps`` holds one page of it")
    outputs_size: int = 0
    outputs_inline: bool = True


class GetRunOutputs(Query):
    """A slice of a run's outputs as JSON text: large outputs travel in slices that fit a NATS message."""

    subject: ClassVar[str] = "praxis.executor.qry.get_run_outputs.v1"

    run_id: str
    offset: int = 0
    limit: int = 1_000_000


class RunOutputsChunk(Reply):
    run_id: str
    offset: int
    data: str
    total: int = Field(description="the outputs' full size in characters of JSON")


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
