"""Request and response bodies of the HTTP API.

Replies from services are contract models; their envelope fields (message id, timestamps of the *reply*,
tracing ids) mean nothing to an HTTP client, so :func:`public` derives the same shape without them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from praxis_contracts.executor import RunDetail, RunSummary, StepCompleted
from praxis_contracts.hardware import BenchState
from praxis_contracts.protocols import Diagnostic, ProtocolDefinition
from praxis_contracts.runs import RecoveryChoice
from praxis_contracts.scheduler import QueueEntry, ReservationInfo

ENVELOPE = frozenset({"message_id", "occurred_at", "correlation_id", "causation_id"})


def public(cls: type[BaseModel], name: str, **overrides: Any) -> type[BaseModel]:
    """``cls`` without envelope fields, as a new model ``name``; ``overrides`` add or replace fields."""
    fields: dict[str, Any] = {n: (f.annotation, f) for n, f in cls.model_fields.items() if n not in ENVELOPE}
    fields.update(overrides)
    model: type[BaseModel] = create_model(name, __doc__=cls.__doc__, **fields)
    return model


# -- health --------------------------------------------------------------------------------------------------


class ServiceHealth(BaseModel):
    status: str = Field(description="'ok', 'degraded', or 'unavailable' (no answer)")
    version: str | None = None
    schema_revision: str | None = None
    uptime_s: float | None = None
    instance: str | None = None
    detail: str | None = None


class GatewayHealth(BaseModel):
    status: str
    version: str
    schema_revision: str | None = None
    uptime_s: float
    nats: Literal["connected", "disconnected"]
    auth: str
    websockets: int = 0


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    services: dict[str, ServiceHealth]
    unhealthy: list[str] = Field(default_factory=list, description="services that are not 'ok'")
    gateway: GatewayHealth


# -- protocols -------------------------------------------------------------------------------------------------


class ProtocolUpload(ProtocolDefinition):
    """The first protocol of the uploaded file, plus every protocol it holds and any warnings."""

    protocols: list[ProtocolDefinition] = Field(default_factory=list)
    diagnostics: list[Diagnostic] = Field(default_factory=list)


class ProtocolsOut(BaseModel):
    protocols: list[ProtocolDefinition]


# -- runs ------------------------------------------------------------------------------------------------------


class RunCreate(BaseModel):
    protocol_id: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    simulate: bool = True
    priority: int = 0
    pins: dict[str, str] = Field(default_factory=dict, description="asset requirement name -> asset id")
    allow_real_hardware_in_simulation: bool = False


class RunAccepted(BaseModel):
    id: str
    status: Literal["queued"] = "queued"


class ControlAccepted(BaseModel):
    id: str
    requested: Literal["cancel", "pause", "resume"]


class CancelBody(BaseModel):
    reason: str | None = None


class RecoverBody(BaseModel):
    choice: RecoveryChoice = Field(
        description="'happened': the parked step took place, go on after it; 'retry': do the step again; "
        "'abort': end the run. It must be one of the run's parked.choices."
    )


class RecoverAccepted(BaseModel):
    id: str
    requested: Literal["recover"] = "recover"
    choice: RecoveryChoice


class StepsOut(BaseModel):
    """One page of a run's journal."""

    run_id: str
    steps: list[StepCompleted]
    steps_total: int = Field(description="the journal's length")
    next_after: int | None = Field(description="pass as ?after= for the next page; null when this page is the last")


QueueEntryOut = public(QueueEntry, "QueueEntryOut")
RunSummaryOut = public(RunSummary, "RunSummaryOut")
RunOut = public(
    RunDetail,
    "RunOut",
    protocol_id=(str | None, None),
    queue=(QueueEntryOut | None, Field(default=None, description="set while only the scheduler knows the run")),
)


class RunsOut(BaseModel):
    runs: list[RunSummaryOut]  # type: ignore[valid-type]


# -- benches, queue, reservations ------------------------------------------------------------------------------

BenchOut = public(BenchState, "BenchOut")
ReservationOut = public(ReservationInfo, "ReservationOut")


class BenchesOut(BaseModel):
    benches: list[BenchOut]  # type: ignore[valid-type]


class QueueOut(BaseModel):
    entries: list[QueueEntryOut]  # type: ignore[valid-type]


class ReservationsOut(BaseModel):
    reservations: list[ReservationOut]  # type: ignore[valid-type]


class ReservationCreate(BaseModel):
    asset_id: str = Field(min_length=1, description="'<bench>' , '<bench>/<machine>' or a resource id")
    starts_at: datetime
    ends_at: datetime
    purpose: str = ""

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> ReservationCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ReleaseBody(BaseModel):
    reason: str | None = None
