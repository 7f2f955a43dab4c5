"""Durable pull consumers: decode -> handler inside a unit of work (with the inbox row) -> ack.

Outcomes, so every message ends acked or in the dead-letter queue with its cause, never silently dropped:

* valid, handled            -> ``ack``                                   (outcome ``ok``)
* already in the inbox      -> ``ack``, a redelivery with no second effect (outcome ``duplicate``)
* undecodable / invalid     -> dead letter with the validation error, then ``term``
* :class:`PermanentError`   -> dead letter, ``term`` (retrying cannot help)
* any other exception       -> ``nak`` with backoff; on the last allowed delivery -> dead letter, ``term``
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
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
from praxis_contracts.registry import UnknownSubject, decode, subject_of
from praxis_contracts.streams import stream_for
from praxis_servicekit import metrics
from praxis_servicekit.logs import correlation_id

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Awaitable[None]]


class PermanentError(Exception):
    """A handler's way to say: this message can never succeed; dead-letter it now with this reason."""


class InboxUnitOfWork(Protocol):
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def claim_inbox(self, message_id: Any, consumer: str, subject: str) -> bool: ...
    async def commit(self) -> None: ...


@dataclass
class Subscription:
    """One durable consumer: a message class (its subject), the handler, and delivery limits."""

    message_type: type[Message]
    handler: Handler
    durable: str = ""
    subject: str | None = None
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    backoff_s: tuple[float, ...] = (0.2, 1.0, 5.0, 15.0)
    deliver_new_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def filter_subject(self) -> str:
        return self.subject or subject_of(self.message_type)

    def durable_name(self, service: str) -> str:
        return self.durable or re.sub(r"[^A-Za-z0-9_-]", "_", f"{service}-{self.message_type.__name__}")


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
            max_deliver=self.sub.max_deliver,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.NEW if self.sub.deliver_new_only else DeliverPolicy.ALL,
            max_ack_pending=1000,
        )
        # Create *or update*: ``pull_subscribe`` alone keeps an existing durable's old config, so a changed
        # max_deliver would make the server stop redelivering before we dead-letter (a silent drop).
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

    async def _handle(self, msg: Msg) -> str:
        try:
            message = decode(msg.subject, msg.data)
        except (ValidationError, UnknownSubject, ValueError) as exc:
            await self.dead_letter(msg, f"invalid message: {exc}")
            await msg.term()
            return "invalid"
        token = correlation_id.set(message.correlation_id)
        try:
            first_time = await self._call_handler(message, msg.subject)
        except PermanentError as exc:
            await self.dead_letter(msg, f"permanent failure: {exc}")
            await msg.term()
            return "dead_lettered"
        except Exception as exc:
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            if delivered >= self.sub.max_deliver:
                log.exception("giving up after %d deliveries", delivered, extra={"subject": msg.subject})
                await self.dead_letter(msg, f"failed {delivered} times; last error: {exc!r}")
                await msg.term()
                return "dead_lettered"
            delay = self.sub.backoff_s[min(delivered - 1, len(self.sub.backoff_s) - 1)]
            log.warning(
                "handler failed (delivery %d), retrying in %.1fs: %r",
                delivered,
                delay,
                exc,
                extra={"subject": msg.subject},
            )
            await msg.nak(delay=delay)
            return "retried"
        finally:
            correlation_id.reset(token)
        await msg.ack()
        return "ok" if first_time else "duplicate"

    async def _call_handler(self, message: Message, subject: str) -> bool:
        """Run the handler once per message id; False when the inbox says it already ran (nothing done)."""
        if self.uow_factory is None:
            await self.sub.handler(message, None)
            return True
        async with self.uow_factory() as uow:
            if not await uow.claim_inbox(message.message_id, self.durable, subject):
                log.info("duplicate %s ignored", message.message_id, extra={"subject": subject})
                return False
            await self.sub.handler(message, uow)
            await uow.commit()
        return True

    async def dead_letter(self, msg: Msg, error: str) -> None:
        metrics.DEAD_LETTERS.labels(self.service, msg.subject).inc()
        letter = DeadLetter(
            service=self.service,
            original_subject=msg.subject,
            headers={k: str(v) for k, v in (msg.headers or {}).items()},
            payload=msg.data.decode("utf-8", errors="replace"),
            error=error,
            num_delivered=msg.metadata.num_delivered if msg.metadata else 1,
        )
        log.error("dead-lettered: %s", error, extra={"subject": msg.subject})
        # One letter per delivered stream message, even if we die between this publish and ``term()``.
        meta = msg.metadata
        dedupe = f"{meta.stream}:{self.durable}:{meta.sequence.stream}" if meta else str(letter.message_id)
        await self.js.publish(
            dlq_subject(self.service), letter.model_dump_json().encode(), headers={"Nats-Msg-Id": f"dlq:{dedupe}"}
        )
