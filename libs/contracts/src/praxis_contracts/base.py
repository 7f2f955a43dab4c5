"""The message envelope every Praxis command, event, query and reply shares.

Messages are frozen pydantic models. Each concrete class names exactly one NATS subject in its
``subject`` class variable; the registry maps subjects back to classes. ``extra="ignore"`` makes readers
tolerant: adding an optional field keeps the subject's version, anything else needs a new ``.vN`` class.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


def utcnow() -> datetime:
    """Timezone-aware now; naive datetimes never enter a message."""
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every message: identity, time and tracing fields.

    ``correlation_id`` is the run id where there is one, so one run can be followed across services;
    ``causation_id`` is the ``message_id`` of the message that caused this one.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: ClassVar[str] = ""

    message_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    causation_id: str | None = None

    @field_validator("*")
    @classmethod
    def _must_be_utc(cls, value: object, info: ValidationInfo) -> object:
        """Every datetime field of every message (not only ``occurred_at``) is timezone-aware, stored as UTC."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{info.field_name} must be timezone-aware (UTC), got a naive datetime")
            return value.astimezone(UTC)
        return value

    def caused(self) -> dict[str, str | None]:
        """Tracing fields for a message caused by this one: same correlation, causation = this id."""
        return {"correlation_id": self.correlation_id, "causation_id": str(self.message_id)}


class Command(Message):
    """An instruction to one owner (imperative name: ``SubmitRun``)."""


class Event(Message):
    """A fact that happened (past tense: ``RunScheduled``)."""


class Query(Message):
    """A request/reply question; the answer is a :class:`Reply`."""


class Reply(Message):
    """The answer to a :class:`Query` (not published on a stream, so it has no subject of its own)."""


class ErrorReply(Reply):
    """A query that could not be answered; ``code`` maps to an HTTP status at the gateway.

    Codes: ``not_found`` (404), ``invalid`` (422), ``conflict`` (409), ``unavailable`` (503), ``internal`` (500).
    """

    code: str
    detail: str
    data: dict[str, object] = Field(default_factory=dict)
