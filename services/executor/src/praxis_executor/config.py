"""Executor settings (env prefix ``PRAXIS_EXECUTOR_``; the NATS and database URLs are shared)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_EXECUTOR_", extra="ignore")

    work_dir: Path = Path(".devdata/executor")
    lease_renew_s: float = 30.0
    lease_extend_s: float = 120.0
    machine_call_timeout_s: float = 30.0
    query_timeout_s: float = 5.0
    max_parallel_runs: int = 8
