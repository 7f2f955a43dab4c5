"""Messages of the hardware agents (one per bench PC).

Machine calls are core-NATS request/reply on a per-bench subject: the executor's worker waits for the answer of
each call anyway, and the idempotency key (run id + sequence) makes a retried request safe. Durable facts
(announcements, heartbeats, status changes) are JetStream events on the bench's own subjects
(``praxis.hardware.evt.<bench>.<name>.v1``): an agent's NATS credentials let it publish only its own bench's, and
a consumer refuses one whose ``bench_id`` is not the subject's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from praxis_contracts.base import Command, Event, Query, Reply


class ResourceInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    plr_type: str = Field(description="fully qualified class of the resource")
    type_chain: list[str] = Field(default_factory=list, description="fqns of the class's MRO (PLR classes only)")
    kind: str = Field(description="Plate, TipRack, Trough, ...")
    parent: str | None = None
    model: str | None = None


class MachineInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    frontend: str = Field(description="fqn of the PLR frontend class")
    frontend_chain: list[str] = Field(default_factory=list)
    backend: str = Field(description="fqn of the PLR backend class")
    category: str
    simulated: bool
    capabilities: list[str] = Field(default_factory=list)
    resources: list[ResourceInfo] = Field(default_factory=list, description="labware on this machine's deck")
    status: str = "idle"


class BenchAnnounced(Event):
    subject: ClassVar[str] = "praxis.hardware.evt.{bench_id}.bench_announced.v1"

    bench_id: str
    simulated: bool
    machines: list[MachineInfo]
    agent_version: str = ""
    host: str = ""


class BenchHeartbeat(Event):
    subject: ClassVar[str] = "praxis.hardware.evt.{bench_id}.bench_heartbeat.v1"

    bench_id: str
    sequence: int
    interval_s: float
    machine_status: dict[str, str] = Field(default_factory=dict)


class BenchOffline(Event):
    """An agent shutting down cleanly says so; a crashed one is noticed by missed heartbeats."""

    subject: ClassVar[str] = "praxis.hardware.evt.{bench_id}.bench_offline.v1"

    bench_id: str
    reason: str = "agent stopped"


class MachineStatusChanged(Event):
    subject: ClassVar[str] = "praxis.hardware.evt.{bench_id}.machine_status_changed.v1"

    bench_id: str
    machine: str
    status: str
    detail: str = ""


class MachineCall(Command):
    """Perform one backend call on a machine of a bench. Request/reply on the bench's own subject.

    ``(run_id, sequence)`` is the idempotency key: the agent performs a key at most once and answers every
    repeat from its record. ``epoch`` is the run's worker generation, a fencing token: once an agent has seen a
    run's epoch N it refuses that run's calls with a lower epoch (a worker that was replaced must not act).
    """

    subject: ClassVar[str] = "praxis.bench.{bench_id}.cmd.machine_call.v1"

    bench_id: str
    run_id: str
    sequence: int
    machine: str
    method: str
    args: dict[str, Any] = Field(default_factory=dict)
    epoch: int = 0
    perform_if_unknown: bool = Field(
        default=False,
        description="an operator chose 'retry' for this call: perform it even though an earlier attempt may have "
        "acted (without this, such a call is refused as OutcomeUnknown)",
    )

    @property
    def idempotency_key(self) -> str:
        return f"{self.run_id}:{self.sequence}"


class CallRefusal(StrEnum):
    """``MachineCallResult.error_type`` values by which an agent says it did *not* act on this request."""

    OUTCOME_UNKNOWN = "OutcomeUnknown"
    """An earlier attempt started on the instrument and the agent died before recording how it ended."""
    IN_PROGRESS = "InProgress"
    """The first attempt of this key is still running; ask again (the agent is alive)."""
    STALE_WORKER = "StaleWorker"
    """A newer worker generation (epoch) of the run exists; this worker must stop."""
    CONFLICT = "IdempotencyConflict"
    """The key was performed with a different machine, method or arguments (a replay that diverged)."""
    RUN_DECK_MISSING = "RunDeckMissing"
    """The agent holds no deck for the run (it restarted): send ``LoadRunDeck`` again, then the same call."""
    NOT_HELD = "RunDoesNotHoldMachine"
    """The run holds no current reservation of the machine (never had one, or it was released): it must not act."""


class MachineCallResult(Reply):
    ok: bool
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    replayed: bool = Field(default=False, description="true when answered from the idempotency store")


class LoadRunDeck(Command):
    """Give the agent the run's deck (PLR ``serialize()`` JSON per machine) so names map back to resources."""

    subject: ClassVar[str] = "praxis.bench.{bench_id}.cmd.load_run_deck.v1"

    bench_id: str
    run_id: str
    machines: dict[str, dict[str, Any]] = Field(default_factory=dict)
    epoch: int = 0


class EndRun(Command):
    subject: ClassVar[str] = "praxis.bench.{bench_id}.cmd.end_run.v1"

    bench_id: str
    run_id: str


class Ack(Reply):
    ok: bool = True
    detail: str = ""
    error_type: str | None = Field(default=None, description="a CallRefusal when the agent refused (ok=false)")


class DescribeBench(Query):
    """The bench's machines with their PLR ``serialize()`` JSON, so a worker can build identical frontends."""

    subject: ClassVar[str] = "praxis.bench.{bench_id}.qry.describe.v1"

    bench_id: str


class BenchDescription(Reply):
    bench_id: str
    simulated: bool
    machines: list[MachineInfo]
    serialized: dict[str, dict[str, Any]] = Field(default_factory=dict, description="machine -> PLR serialize()")
    unreachable_timeout_s: float | None = Field(
        default=None, description="how long a run waits for this bench to answer before parking (None: default)"
    )


class ListBenches(Query):
    """List benches with online status; answered by the scheduler, which projects the bench events."""

    subject: ClassVar[str] = "praxis.scheduler.qry.list_benches.v1"


class BenchState(Reply):
    bench_id: str
    simulated: bool
    online: bool
    last_heartbeat: str | None = None
    machines: list[MachineInfo] = Field(default_factory=list)


class BenchList(Reply):
    benches: list[BenchState]
