"""Every Praxis event, command, query and reply as a frozen pydantic model; subjects and stream specs.

Pydantic only, no I/O: a bench PC installs this without SQLAlchemy or NATS.
"""

from praxis_contracts.base import Command, ErrorReply, Event, Message, Query, Reply, utcnow
from praxis_contracts.common import DeadLetter, HealthQuery, HealthReply, dlq_subject, health_subject
from praxis_contracts.registry import decode, encode, subject_of

__all__ = [
    "Command",
    "DeadLetter",
    "ErrorReply",
    "Event",
    "HealthQuery",
    "HealthReply",
    "Message",
    "Query",
    "Reply",
    "decode",
    "dlq_subject",
    "encode",
    "health_subject",
    "subject_of",
    "utcnow",
]
