"""Scheduler settings (env prefix ``PRAXIS_SCHEDULER_``; the NATS and database URLs are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_SCHEDULER_", extra="ignore")

    lease_s: float = 600.0
    lease_sweep_s: float = 5.0
    heartbeat_grace_factor: float = 3.0
    default_duration_s: float = 900.0
    aging_step_s: float = 300.0
    duration_history: int = 50
