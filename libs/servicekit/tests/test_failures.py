"""The failure tables: which handler errors wait out an outage, which dead-letter, which publish errors are final."""

from __future__ import annotations

import asyncpg.exceptions
import nats.errors
import nats.js.errors
import pytest
import sqlalchemy.exc

from praxis_contracts.base import ErrorReply
from praxis_servicekit.failures import Failure, PermanentError, classify_failure, publish_refusal
from praxis_servicekit.queries import QueryFailed


def _wrapped(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def _handled_during(error: BaseException, context: BaseException) -> BaseException:
    error.__context__ = context
    return error


_DBAPI = Exception("driver error")

HANDLER_FAILURES = [
    # a dependency is down: retried for as long as it takes
    (ConnectionRefusedError(111, "Connect call failed"), Failure.DEPENDENCY),
    (ConnectionResetError(104, "reset by peer"), Failure.DEPENDENCY),
    (OSError(113, "no route to host"), Failure.DEPENDENCY),
    (TimeoutError(), Failure.DEPENDENCY),
    (nats.errors.TimeoutError(), Failure.DEPENDENCY),
    (nats.errors.ConnectionClosedError(), Failure.DEPENDENCY),
    (nats.errors.NoRespondersError(), Failure.DEPENDENCY),
    (nats.errors.OutboundBufferLimitError(), Failure.DEPENDENCY),
    (nats.js.errors.ServiceUnavailableError(), Failure.DEPENDENCY),
    (nats.js.errors.NoStreamResponseError(), Failure.DEPENDENCY),
    (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), Failure.DEPENDENCY),
    (asyncpg.exceptions.CannotConnectNowError("starting up"), Failure.DEPENDENCY),
    (asyncpg.exceptions.AdminShutdownError("terminating connection"), Failure.DEPENDENCY),
    (sqlalchemy.exc.OperationalError("SELECT 1", {}, _DBAPI), Failure.DEPENDENCY),
    (sqlalchemy.exc.InterfaceError("SELECT 1", {}, _DBAPI), Failure.DEPENDENCY),
    (sqlalchemy.exc.DBAPIError("SELECT 1", {}, _DBAPI, connection_invalidated=True), Failure.DEPENDENCY),
    (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), Failure.DEPENDENCY),
    (QueryFailed(ErrorReply(code="unavailable", detail="nobody answers")), Failure.DEPENDENCY),
    (_wrapped(RuntimeError("claim failed"), ConnectionRefusedError()), Failure.DEPENDENCY),  # raised ``from`` it
    # the handler says the message can never succeed: dead-lettered at once
    (PermanentError("unknown run"), Failure.PERMANENT),
    (_wrapped(PermanentError("bench gone"), ConnectionRefusedError()), Failure.PERMANENT),
    # a bug: a bounded number of attempts, then the dead-letter queue
    (RuntimeError("boom"), Failure.BUG),
    (KeyError("run_id"), Failure.BUG),
    (FileNotFoundError(2, "no such file"), Failure.BUG),
    (PermissionError(13, "denied"), Failure.BUG),
    (sqlalchemy.exc.IntegrityError("INSERT", {}, _DBAPI), Failure.BUG),
    (sqlalchemy.exc.DBAPIError("SELECT 1", {}, _DBAPI, connection_invalidated=False), Failure.BUG),
    (asyncpg.exceptions.UniqueViolationError("duplicate key"), Failure.BUG),
    (QueryFailed(ErrorReply(code="not_found", detail="no run")), Failure.BUG),
    (_handled_during(ValueError("bad"), ConnectionResetError()), Failure.BUG),  # only __cause__ counts
]


@pytest.mark.parametrize(("error", "expected"), HANDLER_FAILURES, ids=lambda v: repr(v)[:60])
def test_classify_failure(error: BaseException, expected: Failure) -> None:
    assert classify_failure(error) is expected


def _api_error(code: int, err_code: int, description: str) -> nats.js.errors.APIError:
    return nats.js.errors.APIError(code=code, err_code=err_code, description=description)


PUBLISH_FAILURES = [
    # final for the row: dead-letter it, publish the rest
    (nats.errors.MaxPayloadError(), "max_payload"),
    (nats.errors.BadSubjectError(), "invalid subject"),
    (_api_error(400, 10054, "message size exceeds maximum allowed"), "message size exceeds maximum allowed"),
    (_api_error(400, 10060, "expected stream does not match"), "err_code 10060"),
    (_api_error(400, 10097, "header size exceeds maximum allowed of 64k"), "err_code 10097"),
    # may pass: retry the whole batch later
    (nats.js.errors.NoStreamResponseError(), None),
    (nats.js.errors.ServiceUnavailableError(code=503, err_code=10008), None),
    (_api_error(503, 10077, "store failed"), None),
    (_api_error(400, 10109, "invalid operation on sealed stream"), None),
    (nats.errors.TimeoutError(), None),
    (nats.errors.ConnectionClosedError(), None),
    (TimeoutError(), None),
]


@pytest.mark.parametrize(("error", "expected"), PUBLISH_FAILURES, ids=lambda v: repr(v)[:60])
def test_publish_refusal(error: BaseException, expected: str | None) -> None:
    refusal = publish_refusal(error)
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and expected in refusal
