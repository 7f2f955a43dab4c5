"""Discovery settings (env prefix ``PRAXIS_DISCOVERY_``; the NATS and database URLs are shared)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_DISCOVERY_", extra="ignore")

    max_source_bytes: int = 1024 * 1024
    plr_check_s: float = 60.0
