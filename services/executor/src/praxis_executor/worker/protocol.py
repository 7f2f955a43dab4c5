"""The typed boundary between the executor and one worker process: the job it starts with, the reports it
writes (one JSON object per line on its events pipe), and the control lines it reads on stdin.

Both sides parse with these models, so a field added on one side and forgotten on the other fails a test instead
of being silently dropped. Reports are *untrusted* on the executor's side (the worker runs protocol code that can
write to the pipe): the executor attributes every report to the run it started the worker for, never to a run id
inside a report, and refuses anything that does not parse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from praxis_contracts.hardware import BenchDescription
from praxis_contracts.runs import Assignment, ParkKind, RecoveryChoice

# ------------------------------------------------------------------------------------------------------ the job


class JournalEntry(BaseModel):
    """One journaled machine call, as a replay needs it: enough to compare a new call and to answer it."""

    model_config = ConfigDict(extra="ignore")

    sequence: int
    bench_id: str
    machine: str
    method: str
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    result: Any = None
    error_type: str | None = None
    error: str | None = None


class RecoveryPlan(BaseModel):
    """An operator's choice for the step the run was parked at."""

    step: int
    choice: Literal["happened", "retry"]


class JobSpec(BaseModel):
    """Everything one worker generation needs; written by the executor, read once by the worker."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    function: str
    source: str | None = Field(default=None, description="the protocol's source text (or give source_path)")
    source_path: str | None = None
    filename: str | None = Field(default=None, description="shown in tracebacks")
    parameters: dict[str, Any] = Field(default_factory=dict)
    assignment: Assignment
    benches: dict[str, BenchDescription] = Field(
        default_factory=dict, description="bench id -> description; missing benches are asked over the transport"
    )
    epoch: int = Field(default=1, description="this worker's generation: the fencing token of its machine calls")
    journal: list[JournalEntry] = Field(
        default_factory=list, description="calls already made: answered from here, never sent to an instrument"
    )
    recovery: RecoveryPlan | None = None
    start_paused: bool = False
    transport: Literal["nats", "inprocess"] = "nats"
    nats_url: str | None = None
    nats_creds: str | None = Field(
        default=None, description="this worker's own short-lived NATS credentials (creds file text), renewed on stdin"
    )
    attempt_timeout_s: float = Field(default=5.0, description="one request/reply attempt of a machine call")
    unreachable_timeout_s: float = Field(
        default=120.0, description="how long a bench may stay silent before the run parks (per bench if it says)"
    )
    max_outputs_bytes: int = 64 * 1024 * 1024
    bench_configs: list[str] = Field(default_factory=list, description="inprocess: bench YAML files to run here")
    inprocess_transport: str | None = Field(
        default=None, description="inprocess: 'module:Class' of a transport with async start(bench_configs)"
    )

    @model_validator(mode="after")
    def _complete(self) -> JobSpec:
        if self.source is None and self.source_path is None:
            raise ValueError("give source or source_path")
        if self.transport == "nats" and not self.nats_url:
            raise ValueError("the nats transport needs nats_url")
        if self.transport == "inprocess" and not (self.bench_configs and self.inprocess_transport):
            raise ValueError("the inprocess transport needs bench_configs and inprocess_transport")
        sequences = [e.sequence for e in self.journal]
        if sequences != list(range(1, len(sequences) + 1)):
            raise ValueError("the journal must hold steps 1..n in order, without gaps")
        return self

    @property
    def replaying(self) -> bool:
        return bool(self.journal) or self.recovery is not None or self.epoch > 1

    def source_text(self) -> str:
        if self.source is not None:
            return self.source
        assert self.source_path is not None
        return Path(self.source_path).read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------------- worker -> executor


class StartedReport(BaseModel):
    type: Literal["started"] = "started"
    pid: int


class CallReport(BaseModel):
    """One machine call that is not yet in the journal (live, or answered from the bench's record)."""

    type: Literal["call"] = "call"
    sequence: int
    bench_id: str
    machine: str
    method: str
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    device_ms: float = 0.0
    replayed: bool = False
    summary: dict[str, Any] = Field(default_factory=dict)
    state_diff: dict[str, Any] = Field(default_factory=dict)

    @property
    def error_text(self) -> str | None:
        """``"<type>: <message>"`` for a failed call, as the journal shows it."""
        return None if self.ok else f"{self.error_type or 'Error'}: {self.error or ''}"

    def journal_entry(self) -> JournalEntry:
        return JournalEntry(
            sequence=self.sequence,
            bench_id=self.bench_id,
            machine=self.machine,
            method=self.method,
            args=self.args,
            ok=self.ok,
            result=self.result,
            error_type=self.error_type,
            error=self.error,
        )


class PausedReport(BaseModel):
    type: Literal["paused"] = "paused"


class ResumedReport(BaseModel):
    type: Literal["resumed"] = "resumed"


class ParkedReport(BaseModel):
    """The run cannot go on without a person; the worker exits without touching the instruments again."""

    type: Literal["parked"] = "parked"
    step: int
    kind: ParkKind
    reason: str
    choices: list[RecoveryChoice]


class SuspendedReport(BaseModel):
    """Stopped between two machine calls for a hand-over; the run continues in another worker."""

    type: Literal["suspended"] = "suspended"


class SupersededReport(BaseModel):
    """A bench refused this worker because a newer generation of the run exists; it stops at once."""

    type: Literal["superseded"] = "superseded"
    detail: str = ""


class FinishedReport(BaseModel):
    type: Literal["finished"] = "finished"
    status: Literal["completed", "failed", "cancelled"]
    error: str | None = None
    traceback: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)


Report = Annotated[
    StartedReport
    | CallReport
    | PausedReport
    | ResumedReport
    | ParkedReport
    | SuspendedReport
    | SupersededReport
    | FinishedReport,
    Field(discriminator="type"),
]
REPORT = TypeAdapter[Report](Report)
ENDINGS = (ParkedReport, SuspendedReport, SupersededReport, FinishedReport)
"""Reports after which a worker writes nothing more and exits."""


def parse_report(line: bytes | str) -> Report:
    """One events-pipe line as a report (raises ``pydantic.ValidationError`` on anything else)."""
    return REPORT.validate_json(line)


# -------------------------------------------------------------------------------------------- executor -> worker


class CancelControl(BaseModel):
    type: Literal["cancel"] = "cancel"
    reason: str = "cancelled"


class PauseControl(BaseModel):
    type: Literal["pause"] = "pause"


class ResumeControl(BaseModel):
    type: Literal["resume"] = "resume"


class SuspendControl(BaseModel):
    """Stop before the next machine call without ending the run (the executor is handing it over)."""

    type: Literal["suspend"] = "suspend"


class CredentialsControl(BaseModel):
    """Fresh NATS credentials before the current ones expire: the worker reconnects with them."""

    type: Literal["credentials"] = "credentials"
    creds: str


Control = Annotated[
    CancelControl | PauseControl | ResumeControl | SuspendControl | CredentialsControl,
    Field(discriminator="type"),
]
CONTROL = TypeAdapter[Control](Control)


def parse_control(line: bytes | str) -> Control:
    return CONTROL.validate_json(line)


def encode_line(model: BaseModel) -> bytes:
    return model.model_dump_json().encode() + b"\n"
