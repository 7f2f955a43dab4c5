"""The job file a worker process is started with (written by the executor's supervisor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from praxis_contracts.hardware import BenchDescription
from praxis_contracts.runs import Assignment


class JobSpec(BaseModel):
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
    transport: Literal["nats", "inprocess"] = "nats"
    nats_url: str | None = None
    call_timeout_s: float = 60.0
    call_attempts: int = 3
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
        return self

    def source_text(self) -> str:
        if self.source is not None:
            return self.source
        assert self.source_path is not None
        return Path(self.source_path).read_text(encoding="utf-8")
