"""Agent settings (env prefix ``PRAXIS_AGENT_``; ``--bench-id``/``--config`` on the command line win)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_AGENT_", extra="ignore")

    bench_id: str = "sim-bench-1"
    config: Path = Path("deploy/benches/sim-bench.yaml")
    heartbeat_s: float = 2.0
    announce_every_s: float = 60.0
    idempotency_ttl_s: float = 24 * 3600
