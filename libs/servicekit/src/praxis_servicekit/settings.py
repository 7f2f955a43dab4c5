"""Settings shared by every service; each service subclasses with its own env prefix.

The two infrastructure URLs are deliberately *unprefixed* (``PRAXIS_NATS_URL``, ``PRAXIS_DATABASE_URL``) so one
pair of variables points a whole stack at existing servers. The NATS credentials file has both forms: the
unprefixed ``PRAXIS_NATS_CREDS`` for a process that runs alone, and ``PRAXIS_<SVC>_NATS_CREDS``, which wins, because
on one machine each service needs its own identity.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SHARED_CREDS_ENV = "PRAXIS_NATS_CREDS"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_", extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=AliasChoices("PRAXIS_NATS_URL", "nats_url"))
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("PRAXIS_DATABASE_URL", "database_url"))
    nats_replicas: int | None = Field(
        default=None, validation_alias=AliasChoices("PRAXIS_NATS_REPLICAS", "nats_replicas")
    )
    nats_creds: Path | None = Field(
        default=None, description="this identity's NATS .creds file; None = connect without credentials"
    )
    metrics_port: int = Field(default=0, description="0 = no /metrics endpoint; -1 = a random free port")
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = True
    instance: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    consumer_batch: int = 64
    consumer_max_deliver: int = 5
    consumer_ack_wait_s: float = 30.0
    outbox_poll_s: float = 1.0
    outbox_retry_max_s: float = Field(default=30.0, description="cap of the relay's backoff while NATS/PG fail")
    health_db_timeout_s: float = Field(default=1.0, description="bound of the database ping in a health answer")
    shutdown_grace_s: float = 10.0

    @model_validator(mode="before")
    @classmethod
    def _shared_creds(cls, data: Any) -> Any:
        """A blank or missing prefixed ``NATS_CREDS`` falls back to the shared ``PRAXIS_NATS_CREDS``; an explicit
        ``nats_creds=None`` stays None."""
        if not isinstance(data, dict) or ("nats_creds" in data and data["nats_creds"] is None):
            return data
        if not str(data.get("nats_creds") or "").strip():
            shared = os.environ.get(SHARED_CREDS_ENV, "").strip()
            data = {**data, "nats_creds": shared or None}
        return data
