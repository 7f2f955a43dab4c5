"""Request/reply over core NATS: typed queries in, typed replies out.

A service answers each query subject in a queue group named after itself, so N replicas share the load. An
:class:`~praxis_contracts.base.ErrorReply` travels with the header ``Praxis-Error: 1`` so the asker can tell it
from the expected reply type without guessing from the JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import ValidationError

from praxis_contracts.base import ErrorReply, Message, Reply
from praxis_contracts.registry import SubjectMismatch, check_subject, subject_of
from praxis_servicekit import metrics
from praxis_servicekit.logs import correlation_id

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Reply)
QueryHandler = Callable[[Any], Awaitable[Reply]]
ERROR_HEADER = "Praxis-Error"


class QueryFailed(Exception):
    """The service answered with an :class:`ErrorReply`, or nobody answered in time."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(f"{reply.code}: {reply.detail}")
        self.reply = reply


@dataclass
class QueryRoute:
    message_type: type[Message]
    handler: QueryHandler
    subject: str | None = None

    def subject_filter(self) -> str:
        return self.subject or subject_of(self.message_type)


async def serve_queries(nc: Client, routes: list[QueryRoute], *, service: str) -> list[NatsSubscription]:
    subs = []
    for route in routes:
        subs.append(await nc.subscribe(route.subject_filter(), queue=service, cb=_responder(nc, route, service)))
    return subs


def _responder(nc: Client, route: QueryRoute, service: str) -> Callable[[Msg], Awaitable[None]]:
    async def respond(msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            query = route.message_type.model_validate_json(msg.data)
            check_subject(query, msg.subject)  # a per-bench request names the bench it was sent to
        except (ValidationError, SubjectMismatch) as exc:
            reply: Reply = ErrorReply(code="invalid", detail=f"invalid query: {exc}")
        else:
            token = correlation_id.set(query.correlation_id)
            try:
                reply = await route.handler(query)
            except Exception as exc:
                log.exception("query handler failed", extra={"subject": msg.subject})
                reply = ErrorReply(code="internal", detail=f"{type(exc).__name__}: {exc}")
            finally:
                correlation_id.reset(token)
        is_error = isinstance(reply, ErrorReply)
        metrics.QUERIES.labels(service, route.subject_filter(), "error" if is_error else "ok").inc()
        await nc.publish(msg.reply, reply.model_dump_json().encode(), headers={ERROR_HEADER: "1" if is_error else "0"})

    return respond


async def request(
    nc: Client, query: Message, reply_type: type[R], *, timeout: float = 5.0, subject: str | None = None
) -> R:
    """Ask and wait; raises :class:`QueryFailed` with ``unavailable`` when nobody answers in time."""
    target = subject or subject_of(query)
    try:
        msg = await nc.request(target, query.model_dump_json().encode(), timeout=timeout)
    except (NatsTimeoutError, TimeoutError) as exc:
        raise QueryFailed(ErrorReply(code="unavailable", detail=f"no answer on {target} within {timeout}s")) from exc
    except NoRespondersError as exc:
        raise QueryFailed(ErrorReply(code="unavailable", detail=f"nobody answers {target}")) from exc
    if (msg.headers or {}).get(ERROR_HEADER) == "1":
        raise QueryFailed(ErrorReply.model_validate_json(msg.data))
    return reply_type.model_validate_json(msg.data)
