"""What a failure means: a dependency that is down (wait for it), a message that can never succeed, or a bug.

The consumer and the outbox relay decide between "retry" and "dead-letter" here, in one place, so the rules can
be read (and tested) as a table. SQLAlchemy and asyncpg are optional (a bench PC's hardware agent runs without
them): their exception types are looked up in ``sys.modules`` only, never imported. An exception of a module
that was never imported cannot exist, so this is exact, and it keeps this module free of import side effects.
"""

from __future__ import annotations

import enum
import sys

import nats.errors
import nats.js.errors

from praxis_servicekit.queries import QueryFailed

__all__ = ["Failure", "PermanentError", "classify_failure", "is_dependency_down", "publish_refusal"]


class PermanentError(Exception):
    """A handler's way to say: this message can never succeed; dead-letter it now with this reason."""


class Failure(enum.Enum):
    DEPENDENCY = "dependency"  # Postgres, NATS or a called service is down: retry for as long as it takes
    PERMANENT = "permanent"  # the handler said this message can never succeed: dead-letter now
    BUG = "bug"  # anything else: a bounded number of attempts, then the dead-letter queue with the cause


# The client is disconnected, reconnecting or timed out, or nobody (no service, no stream) answers yet.
_NATS_DOWN: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.TimeoutError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)

# OSErrors a retry cannot fix: a missing file stays missing. Every other OSError (refused, reset, unreachable,
# timed out...) is a network or resource condition that passes.
_LOCAL_OS_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

_ASYNCPG_DOWN = (
    "PostgresConnectionError",  # SQLSTATE class 08, e.g. ConnectionDoesNotExistError
    "CannotConnectNowError",  # 57P03: starting up or shutting down
    "AdminShutdownError",  # 57P01: a fast shutdown killed our session
    "CrashShutdownError",  # 57P02
    "TooManyConnectionsError",  # 53300
)
_SQLALCHEMY_DOWN = ("OperationalError", "InterfaceError", "TimeoutError")  # TimeoutError: the pool's


def _loaded(module: str, names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    loaded = sys.modules.get(module)
    found = (getattr(loaded, name, None) for name in names) if loaded is not None else ()
    return tuple(t for t in found if isinstance(t, type) and issubclass(t, BaseException))


def _down(exc: BaseException) -> bool:
    if isinstance(exc, _LOCAL_OS_ERRORS):
        return False
    if isinstance(exc, (OSError, *_NATS_DOWN)):  # OSError covers ConnectionError and (since 3.11) TimeoutError
        return True
    if isinstance(exc, _loaded("asyncpg.exceptions", _ASYNCPG_DOWN) + _loaded("sqlalchemy.exc", _SQLALCHEMY_DOWN)):
        return True
    if getattr(exc, "connection_invalidated", False):  # sqlalchemy.exc.DBAPIError after a disconnect
        return True
    return isinstance(exc, QueryFailed) and exc.reply.code == "unavailable"  # the service we asked is down


def is_dependency_down(exc: BaseException) -> bool:
    """True when ``exc``, or an exception it was raised ``from``, says a server we depend on is unreachable.

    Only the explicit ``__cause__`` chain is followed (SQLAlchemy raises its wrappers ``from`` the driver's
    error), not ``__context__``: a bug raised while handling a connection error is still a bug.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _down(current):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def classify_failure(exc: BaseException) -> Failure:
    """What a handler's exception means for its message (see the module docstring for why it matters)."""
    if isinstance(exc, PermanentError):
        return Failure.PERMANENT
    if is_dependency_down(exc):
        return Failure.DEPENDENCY
    return Failure.BUG


# JetStream error codes (``err_code``) that reject one published message for what it is, so publishing it again
# can never succeed. Stream-wide conditions (full, sealed, offline, store failure) are not here: they pass.
_MESSAGE_REJECTED = {
    10054: "message size exceeds the stream's maximum",
    10097: "headers exceed 64k",
    10060: "expected stream does not match",
    10063: "expected stream sequence does not match",
    10070: "wrong last message id",
    10071: "wrong last sequence",
    10164: "wrong last sequence",
    10193: "missing sequence for expected last sequence per subject",
    10157: "pedantic mode",
    10165: "invalid per-message TTL",
    10166: "per-message TTL is disabled",
}


def publish_refusal(exc: BaseException) -> str | None:
    """Why publishing this one message can never succeed, or None when the failure may pass (publish again).

    Permanent: the client refused it (bigger than the server's max payload, a malformed subject) or JetStream
    answered with one of the message-level errors above. Everything else (disconnected, timed out, no stream
    yet, JetStream unavailable) is transient for the whole batch.
    """
    if isinstance(exc, nats.errors.MaxPayloadError):
        return "larger than the NATS server's max_payload"
    if isinstance(exc, nats.errors.BadSubjectError):
        return "invalid subject"
    if isinstance(exc, nats.js.errors.APIError) and exc.err_code in _MESSAGE_REJECTED:
        return f"JetStream refused it: {exc.description or _MESSAGE_REJECTED[exc.err_code]} (err_code {exc.err_code})"
    return None
