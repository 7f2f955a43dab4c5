"""Every error leaves the gateway as JSON ``{"detail": ..., ...}`` with the status its cause implies.

A service's ``ErrorReply`` maps by code (``not_found`` 404, ``invalid`` 422, ``conflict`` 409, ``unavailable``
503, ``internal`` 500) and its ``data`` is merged into the body, so discovery's diagnostics or the scheduler's
conflicting reservation reach the client untouched. A NATS failure (disconnected, no stream) is a 503; a
message over the server's ``max_payload`` is a 413.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError

from praxis_servicekit.queries import QueryFailed

log = logging.getLogger(__name__)

STATUS_BY_CODE = {"not_found": 404, "invalid": 422, "conflict": 409, "unavailable": 503, "internal": 500}


class ApiError(Exception):
    """An error the gateway itself decides on (a bad upload, an invalid parameter, a missing reason)."""

    def __init__(self, status_code: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.extra = extra


def body(detail: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "detail": detail}


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(body(exc.detail, **exc.extra), status_code=exc.status_code)


async def query_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueryFailed)
    reply = exc.reply
    status = STATUS_BY_CODE.get(reply.code, 502)
    data = {key: without_envelope(value) for key, value in reply.data.items()}
    return JSONResponse(body(reply.detail, code=reply.code, **data), status_code=status)


ENVELOPE = ("message_id", "occurred_at", "correlation_id", "causation_id")


def without_envelope(value: Any) -> Any:
    """Services attach replies (e.g. the clashing reservation) as JSON; drop their message envelope, as the
    routes do for replies they return."""
    if isinstance(value, list):
        return [without_envelope(v) for v in value]
    if isinstance(value, dict):
        is_message = "message_id" in value and "occurred_at" in value
        return {k: without_envelope(v) for k, v in value.items() if not (is_message and k in ENVELOPE)}
    return value


async def too_large_for_bus(request: Request, exc: Exception) -> JSONResponse:
    limit = request.app.state.runtime.nc.max_payload
    return JSONResponse(
        body(f"the request is too large for the message bus (its limit is {limit} bytes as JSON)"), status_code=413
    )


async def nats_failed(_: Request, exc: Exception) -> JSONResponse:
    log.warning("NATS failure: %r", exc)
    return JSONResponse(body(f"message bus unavailable: {type(exc).__name__}"), status_code=503)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(QueryFailed, query_failed)
    app.add_exception_handler(MaxPayloadError, too_large_for_bus)
    app.add_exception_handler(NatsError, nats_failed)
