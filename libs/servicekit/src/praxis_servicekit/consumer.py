"""Durable pull consumers: decode -> handler inside a unit of work (with the inbox row) -> ack.

Outcomes, so every message ends acked or in the dead-letter queue with its cause, never silently dropped:

* valid, handled               -> ``ack``                                   (outcome ``ok``)
* already in the inbox         -> ``ack``, a redelivery with no second effect (outcome ``duplicate``)
* a version nobody here handles -> dead letter ("unknown version"), ``term``  (outcome ``invalid``)
* undecodable / invalid        -> dead letter with the validation error, ``term`` (outcome ``invalid``)
* :class:`PermanentError`      -> dead letter, ``term``: retrying cannot help (outcome ``dead_lettered``)
* a dependency is down         -> ``nak`` with a capped exponential backoff, for as long as it takes: an outage
  of Postgres or NATS must not dead-letter valid messages                     (outcome ``retried``)
* any other exception (a bug)  -> ``nak`` with backoff; after ``max_deliver`` failures -> dead letter, ``term``

Which failure is which is decided by :func:`praxis_servicekit.failures.classify_failure`. Because outages are
retried without limit, the JetStream consumer itself never stops redelivering (``max_deliver=-1``): this code
counts, and the count of a bug's failures is kept per message in memory.

Each consumer's JetStream filter is the *version wildcard* of its subject (``...cancel_run.*``), so a ``.v2``
published while this service only handles ``.v1`` reaches it and is dead-lettered instead of sitting in the
stream for good. Versions of one message share one consumer (:attr:`Subscription.versions`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError
from pydantic import ValidationError

from praxis_contracts.base import Message
from praxis_contracts.common import DeadLetter, dlq_subject
from praxis_contracts.registry import UnknownSubject, check_subject, decode, subject_pattern
from praxis_contracts.streams import stream_for
from praxis_servicekit import metrics
from praxis_servicekit.failures import Failure, PermanentError, classify_failure
from praxis_servicekit.logs import correlation_id

__all__ = [
    "Consumer",
    "PermanentError",
    "Route",
    "Subscription",
    "check_subscriptions",
    "subject_matches",
    "version_number",
    "version_wildcard",
]

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Awaitable[None]]

_VERSION_TOKEN = re.compile(r"v[0-9]+")
_TRACKED_FAILURES = 10_000  # messages whose bug-failure count is remembered (oldest forgotten first)


def version_wildcard(subject: str) -> str:
    """``praxis.executor.cmd.cancel_run.v1`` -> ``praxis.executor.cmd.cancel_run.*``.

    A subject whose last token is not a version (already a wildcard, or unversioned) is its own filter.
    """
    head, _, last = subject.rpartition(".")
    return f"{head}.*" if head and _VERSION_TOKEN.fullmatch(last) else subject


def version_number(subject: str) -> int:
    """The N of a trailing ``.vN`` (0 when there is none): orders the versions of one message."""
    last = subject.rpartition(".")[2]
    return int(last[1:]) if _VERSION_TOKEN.fullmatch(last) else 0


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS matching: ``*`` is one token, a trailing ``>`` one or more."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or token not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


class InboxUnitOfWork(Protocol):
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def claim_inbox(self, message_id: Any, consumer: str, subject: str) -> bool: ...
    async def commit(self) -> None: ...


@dataclass(frozen=True)
class Route:
    """What one handled subject is decoded as and who handles it; ``message_type=None`` lets the registry decide
    (a subscription on a wildcard subject)."""

    message_type: type[Message] | None
    handler: Handler

    def decode(self, subject: str, data: bytes) -> Message:
        if self.message_type is None:
            return decode(subject, data)
        msg = self.message_type.model_validate_json(data)
        check_subject(msg, subject)  # a per-bench message names the bench of its subject
        return msg


@dataclass
class Subscription:
    """One durable consumer: a message class (its subject), the handler, and delivery limits.

    ``versions`` maps other versions of the same message (``CancelRunV2`` next to ``CancelRun``) to their
    handlers: they share this consumer, which dispatches by subject. ``max_deliver`` is the budget of a *bug*
    (an unclassified exception); a dependency that is down is waited for with ``outage_backoff_s`` doubling up
    to ``outage_backoff_max_s``, however long it takes.
    """

    message_type: type[Message]
    handler: Handler
    durable: str = ""
    subject: str | None = None
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    backoff_s: tuple[float, ...] = (0.2, 1.0, 5.0, 15.0)
    deliver_new_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    versions: Mapping[type[Message], Handler] = field(default_factory=dict)
    outage_backoff_s: float = 0.5
    outage_backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        """Bad wiring fails here, at wiring time, rather than as dead letters in production."""
        if self.versions and version_wildcard(self.handled_subject()) == self.handled_subject():
            raise ValueError(f"subject {self.handled_subject()!r} has no trailing .vN: it cannot carry other versions")
        family = version_wildcard(self.message_type.subject)
        for cls in self.versions:
            if cls.subject == self.message_type.subject or version_wildcard(cls.subject) != family:
                raise ValueError(
                    f"{cls.__name__} ({cls.subject}) is not another version of "
                    f"{self.message_type.__name__} ({self.message_type.subject})"
                )

    def handled_subject(self) -> str:
        """The subject of ``message_type`` this subscription handles: each placeholder (a per-bench event's
        ``{bench_id}``) is ``*``, so one consumer takes every bench's."""
        return self.subject or subject_pattern(self.message_type)

    def filter_subject(self) -> str:
        """The JetStream filter: every version of the handled subject."""
        return version_wildcard(self.handled_subject())

    def routes(self) -> dict[str, Route]:
        """Handled subject -> route, for ``message_type`` and each of ``versions``."""
        subject = self.handled_subject()
        routes = {subject: Route(self.message_type, self.handler)}
        prefix = self.filter_subject()[:-1]
        for cls, handler in self.versions.items():
            routes[prefix + cls.subject.rpartition(".")[2]] = Route(cls, handler)
        return routes

    def outage_delay(self, delivered: int) -> float:
        return float(min(self.outage_backoff_max_s, self.outage_backoff_s * 2 ** min(max(delivered - 1, 0), 30)))

    def durable_name(self, service: str) -> str:
        return self.durable or re.sub(r"[^A-Za-z0-9_-]", "_", f"{service}-{self.message_type.__name__}")


def check_subscriptions(subscriptions: Iterable[Subscription], service: str) -> None:
    """Refuse two subscriptions whose filters are the same version wildcard but that handle different versions.

    Each would receive every version and dead-letter as "unknown version" what the other one handles (and on a
    work-queue stream JetStream refuses the second consumer). Raises ValueError saying how to merge them.
    """
    first_on: dict[str, Subscription] = {}
    for sub in subscriptions:
        first = first_on.setdefault(sub.filter_subject(), sub)
        if first is not sub and first.routes().keys() != sub.routes().keys():
            raise ValueError(
                f"{service}: consumers {first.durable_name(service)} ({', '.join(first.routes())}) and "
                f"{sub.durable_name(service)} ({', '.join(sub.routes())}) handle versions of one message "
                f"separately; give one Subscription all of them: Subscription({first.message_type.__name__}, "
                f"handler, versions={{{sub.message_type.__name__}: other_handler}})"
            )


class Consumer:
    """Runs one :class:`Subscription` until stopped.

    ``uow_factory`` is None for services without a database (the hardware agent): the handler then gets
    ``None`` as its unit of work and must be idempotent on its own.
    """

    def __init__(
        self,
        js: JetStreamContext,
        sub: Subscription,
        *,
        service: str,
        uow_factory: Callable[[], InboxUnitOfWork] | None,
        batch: int = 64,
    ) -> None:
        self.js = js
        self.sub = sub
        self.service = service
        self.uow_factory = uow_factory
        self.batch = batch
        self.durable = sub.durable_name(service)
        self._routes = sub.routes()
        handled = sub.handled_subject()
        self._wildcard = handled if "*" in handled.split(".") or handled.endswith(">") else None
        self._failures: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._stopping = asyncio.Event()
        self._psub: Any = None

    def stop(self) -> None:
        self._stopping.set()

    async def subscribe(self) -> None:
        subject = self.sub.filter_subject()
        spec = stream_for(subject.replace("*", "x"))
        stream = spec.name if spec else await self.js.find_stream_name_by_subject(subject)
        config = ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.sub.ack_wait_s,
            max_deliver=-1,  # never give up server-side: outages are retried without limit, bugs are counted here
            filter_subject=subject,
            deliver_policy=DeliverPolicy.NEW if self.sub.deliver_new_only else DeliverPolicy.ALL,
            max_ack_pending=1000,
        )
        # Create *or update*: ``pull_subscribe`` alone keeps an existing durable's old config (a durable made with
        # the exact v1 filter, or with a max_deliver after which the server would silently stop redelivering).
        try:
            await self.js.add_consumer(stream, config)
        except BadRequestError as exc:  # an update the server refuses (e.g. deliver policy): keep the old one
            try:
                await self.js.consumer_info(stream, self.durable)
            except NotFoundError:
                raise exc from None  # not an update but a refused creation
            log.warning("consumer %s not updated: %s", self.durable, exc, extra={"durable": self.durable})
        self._psub = await self.js.pull_subscribe_bind(durable=self.durable, stream=stream)

    async def run(self) -> None:
        if self._psub is None:
            await self.subscribe()
        while not self._stopping.is_set():
            try:
                msgs = await self._psub.fetch(self.batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception:
                if self._stopping.is_set():
                    break
                log.exception("fetch failed", extra={"durable": self.durable})
                await asyncio.sleep(0.5)  # the NATS client reconnects meanwhile
                continue
            for msg in msgs:  # finish the whole batch even when stopping: they are already delivered to us
                try:
                    await self.handle(msg)
                except Exception:  # e.g. NATS gone while acking or dead-lettering: redelivered after ack_wait
                    log.exception("could not settle a message", extra={"subject": msg.subject})
        try:
            await self._psub.unsubscribe()
        except Exception:  # already closed with the connection
            pass

    async def handle(self, msg: Msg) -> str:
        """Settle one message; returns the outcome (for metrics and tests)."""
        started = time.perf_counter()
        outcome = await self._handle(msg)
        metrics.MESSAGES.labels(self.service, msg.subject, outcome).inc()
        metrics.HANDLER_SECONDS.labels(self.service, msg.subject).observe(time.perf_counter() - started)
        return outcome

    def route_for(self, subject: str) -> Route | None:
        """The route of a subject this consumer handles; None for another version of the message."""
        route = self._routes.get(subject)
        if route is None and self._wildcard is not None and subject_matches(self._wildcard, subject):
            return Route(None, self.sub.handler)
        return route

    async def _handle(self, msg: Msg) -> str:
        route = self.route_for(msg.subject)
        if route is None:
            handled = ", ".join(self._routes)
            await self._reject(msg, f"unknown version: {msg.subject} is not handled by {self.durable} ({handled})")
            return "invalid"
        try:
            message = route.decode(msg.subject, msg.data)
        except (ValidationError, UnknownSubject, ValueError) as exc:
            await self._reject(msg, f"invalid message: {exc}")
            return "invalid"
        token = correlation_id.set(message.correlation_id)
        try:
            first_time = await self._call_handler(route.handler, message, msg.subject)
        except Exception as exc:
            return await self._failed(msg, exc)
        finally:
            correlation_id.reset(token)
        self._forget(msg)
        await msg.ack()
        return "ok" if first_time else "duplicate"

    async def _failed(self, msg: Msg, exc: Exception) -> str:
        """Dead-letter, or nak with the delay the kind of failure calls for; returns the outcome."""
        kind = classify_failure(exc)
        if kind is Failure.PERMANENT:
            await self._reject(msg, f"permanent failure: {exc}")
            return "dead_lettered"
        delivered = _num_delivered(msg)
        if kind is Failure.DEPENDENCY:
            delay = self.sub.outage_delay(delivered)
            log.warning(
                "a dependency is down (delivery %d), retrying in %.1fs: %r",
                delivered,
                delay,
                exc,
                extra={"subject": msg.subject},
            )
            await msg.nak(delay=delay)
            return "retried"
        failures = self._count_failure(msg)
        if failures >= self.sub.max_deliver:
            log.error("giving up after %d failures", failures, exc_info=exc, extra={"subject": msg.subject})
            await self._reject(msg, f"failed {failures} times; last error: {exc!r}")
            return "dead_lettered"
        delay = self.sub.backoff_s[min(failures - 1, len(self.sub.backoff_s) - 1)]
        log.warning(
            "handler failed (failure %d of %d), retrying in %.1fs: %r",
            failures,
            self.sub.max_deliver,
            delay,
            exc,
            extra={"subject": msg.subject},
        )
        await msg.nak(delay=delay)
        return "retried"

    def _count_failure(self, msg: Msg) -> int:
        """How many times this message failed with a bug, here (deliveries spent waiting out an outage don't count).

        In memory: a restart starts the count again, which still bounds the attempts per process lifetime.
        """
        key = _position(msg)
        if key is None:
            return _num_delivered(msg)
        count = self._failures.pop(key, 0) + 1
        self._failures[key] = count
        while len(self._failures) > _TRACKED_FAILURES:
            self._failures.popitem(last=False)
        return count

    async def _call_handler(self, handler: Handler, message: Message, subject: str) -> bool:
        """Run the handler once per message id; False when the inbox says it already ran (nothing done)."""
        if self.uow_factory is None:
            await handler(message, None)
            return True
        async with self.uow_factory() as uow:
            if not await uow.claim_inbox(message.message_id, self.durable, subject):
                log.info("duplicate %s ignored", message.message_id, extra={"subject": subject})
                return False
            await handler(message, uow)
            await uow.commit()
        return True

    async def _reject(self, msg: Msg, error: str) -> None:
        """Dead-letter, then ``term`` so JetStream never delivers it again."""
        await self.dead_letter(msg, error)
        await msg.term()
        self._forget(msg)

    def _forget(self, msg: Msg) -> None:
        key = _position(msg)
        if key is not None:
            self._failures.pop(key, None)

    async def dead_letter(self, msg: Msg, error: str) -> None:
        metrics.DEAD_LETTERS.labels(self.service, msg.subject).inc()
        letter = DeadLetter(
            service=self.service,
            original_subject=msg.subject,
            headers={k: str(v) for k, v in (msg.headers or {}).items()},
            payload=msg.data.decode("utf-8", errors="replace"),
            error=error,
            num_delivered=_num_delivered(msg),
        )
        log.error("dead-lettered: %s", error, extra={"subject": msg.subject})
        # One letter per delivered stream message, even if we die between this publish and ``term()``.
        position = _position(msg)
        dedupe = f"{position[0]}:{self.durable}:{position[1]}" if position else str(letter.message_id)
        await self.js.publish(
            dlq_subject(self.service), letter.model_dump_json().encode(), headers={"Nats-Msg-Id": f"dlq:{dedupe}"}
        )


def _num_delivered(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # not a JetStream message (a test's plain Msg): its first delivery
        return 1


def _position(msg: Msg) -> tuple[str, int] | None:
    """(stream, stream sequence): the identity of a message across its redeliveries."""
    try:
        meta = msg.metadata
        return str(meta.stream), int(meta.sequence.stream)
    except Exception:
        return None
