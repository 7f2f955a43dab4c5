"""Messages every service shares: health queries and dead letters."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from praxis_contracts.base import Event, Query, Reply


class HealthQuery(Query):
    """Ask one service for its health. Subject per service: ``praxis.<svc>.qry.health.v1``."""


def health_subject(service: str) -> str:
    """The health-query subject of ``service`` (``hardware-agent`` benches answer per bench id)."""
    return f"praxis.{service}.qry.health.v1"


class HealthReply(Reply):
    service: str
    status: str = Field(description="'ok' or 'degraded'")
    version: str
    schema_revision: str | None = None
    uptime_s: float
    instance: str = ""
    details: dict[str, str] = Field(default_factory=dict)


class DeadLetter(Event):
    """A message a consumer could not handle, with why. Published on ``praxis.dlq.<service>``."""

    subject: ClassVar[str] = "praxis.dlq.{service}"

    service: str
    original_subject: str
    headers: dict[str, str] = Field(default_factory=dict)
    payload: str = Field(description="the original payload, decoded as UTF-8 with replacement")
    error: str
    num_delivered: int = 1


def dlq_subject(service: str) -> str:
    return f"praxis.dlq.{service}"
