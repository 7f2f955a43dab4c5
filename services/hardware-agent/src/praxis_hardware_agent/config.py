"""Agent settings (env prefix ``PRAXIS_AGENT_``; ``--bench-id``/``--config`` on the command line win)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_AGENT_", extra="ignore")

    bench_id: str = Field(default="sim-bench-1", pattern=r"^[A-Za-z0-9_-]+$", description="one NATS subject token")
    config: Path = Path("deploy/benches/sim-bench.yaml")
    heartbeat_s: float = 2.0
    announce_every_s: float = 60.0
    state_dir: Path = Field(
        default=Path(".devdata/agent"), description="where the call record <bench_id>.sqlite3 lives (created)"
    )
    state_sync: Literal["normal", "full"] = Field(
        default="normal", description="normal: survives an agent crash; full: fsync per call, survives power loss"
    )
    idempotency_ttl_s: float = Field(default=24 * 3600, gt=0, description="how long the call record keeps a key")
    state_sweep_s: float = Field(default=600.0, gt=0, description="how often expired records are deleted")
    call_inflight_wait_s: float = Field(
        default=4.0, gt=0, description="how long a repeat waits for the first attempt before answering InProgress"
    )
    enforce_holdings: bool = Field(
        default=True,
        description="perform a run's calls only on machines the scheduler has reserved for it; off only for a "
        "bench no scheduler places runs on (a bench driven by hand)",
    )
    holdings_query_timeout_s: float = Field(
        default=2.0, gt=0, description="how long to wait for the scheduler's reservation list"
    )
    holdings_resync_s: float = Field(
        default=30.0, gt=0, description="how often the holdings are re-read from the scheduler (and after reconnects)"
    )

    @field_validator("state_sync", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value
