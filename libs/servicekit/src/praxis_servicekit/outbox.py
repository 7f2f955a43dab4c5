"""The outbox relay: publishes committed outbox rows to JetStream, then marks them sent.

A crash between publishing and marking is safe: the row is published again with the same ``Nats-Msg-Id``
(= the message id), which JetStream drops inside the stream's duplicate window, and consumers' inboxes drop any
copy that slips past it. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several replicas can relay at once.

Failures are judged per row (:func:`praxis_servicekit.failures.publish_refusal`). A row that can never be
published (larger than the server's max payload, a malformed subject, a message JetStream refuses for what it
is) must not wedge every row behind it: it goes to ``praxis.dlq.<service>`` as a :class:`DeadLetter` with its
cause and as much of its payload as fits, and is marked published (the outbox table has no other state, and every
service's migrations own it) with an ERROR log naming its message id; the other rows are published in order. A
failure that may pass (disconnected, timed out, no stream yet) marks nothing, and the batch is retried after a
capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from nats.errors import BadSubjectError, MaxPayloadError
from nats.js import JetStreamContext
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_contracts.common import DeadLetter, dlq_subject
from praxis_servicekit import metrics
from praxis_servicekit.failures import publish_refusal

log = logging.getLogger(__name__)

_PUBLISHABLE = re.compile(r"[^.\s*>]+(\.[^.\s*>]+)*\Z")  # non-empty tokens, no whitespace, no wildcards
_HEADER_FRAME = len(b"NATS/1.0\r\n") + len(b"\r\n")

Refused = tuple[Any, str]  # (outbox row, why it can never be published)


def headers_size(headers: Mapping[str, str]) -> int:
    """Bytes ``headers`` take on the wire: the server's max_payload counts them together with the payload."""
    return _HEADER_FRAME + sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items())


def fit_dead_letter(letter: DeadLetter, payload: bytes, limit: int) -> bytes:
    """``letter`` as JSON of at most ``limit`` bytes, carrying as much of ``payload`` as fits; the error says how
    much was cut. Headers are dropped only if even an empty payload does not fit (and the error says so too)."""
    body = _with_payload(letter, payload, limit)
    if len(body) > limit:
        stripped = letter.model_copy(update={"headers": {}, "error": f"{letter.error}; headers dropped"})
        body = _with_payload(stripped, payload, limit)
    return body


def _with_payload(letter: DeadLetter, payload: bytes, limit: int) -> bytes:
    keep = len(payload)
    while True:
        if keep >= len(payload):
            text, error = payload.decode("utf-8", errors="replace"), letter.error
        else:  # cut at a UTF-8 boundary; JSON escaping may still grow it, hence the loop
            text = payload[:keep].decode("utf-8", errors="ignore")
            error = f"{letter.error}; payload truncated to {len(text.encode())} of {len(payload)} bytes"
        body = letter.model_copy(update={"payload": text, "error": error}).model_dump_json().encode()
        if len(body) <= limit or keep == 0:
            return body
        keep = max(0, min(keep, len(payload)) - (len(body) - limit))


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: sa.Table,
        js: JetStreamContext,
        *,
        service: str,
        batch: int = 500,
        poll_s: float = 1.0,
        ack_timeout_s: float = 10.0,
        retry_backoff_s: float = 0.5,
        retry_backoff_max_s: float = 30.0,
        max_payload: int | None = None,
    ) -> None:
        """``max_payload`` defaults to what the NATS server announced to ``js``'s connection."""
        self.engine = engine
        self.outbox = outbox
        self.js = js
        self.service = service
        self.batch = batch
        self.poll_s = poll_s
        self.ack_timeout_s = ack_timeout_s
        self.retry_backoff_s = retry_backoff_s
        self.retry_backoff_max_s = retry_backoff_max_s
        self.max_payload = max_payload
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: relay now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped; on stop, drain what is committed so nothing waits for the next boot."""
        failures = 0
        while not self._stopping:
            try:
                while await self.relay_once():
                    pass
                failures = 0
            except Exception:  # NATS or PG hiccup: rows stay unsent and are retried, after a backoff (no spinning)
                failures += 1
                delay = min(self.retry_backoff_max_s, self.retry_backoff_s * 2 ** min(failures - 1, 30))
                log.exception("outbox relay failed (%d in a row); retrying in %.1fs", failures, delay)
                await _wait(self._stopped, delay)  # a commit's notify must not cut the backoff short
                continue
            await _wait(self._wake, self.poll_s)
            self._wake.clear()
        try:
            while await self.relay_once():
                pass
        except Exception:
            log.exception("outbox drain at shutdown failed; rows will be sent at next start")

    async def relay_once(self, *, mark: bool = True) -> int:
        """Settle one batch of unsent rows (publish, or dead-letter what can never be published); returns how many.

        ``mark=False`` publishes without marking: it is what a relay that crashed after publishing did, and
        exists so tests can prove the duplicate is harmless.
        """
        o = self.outbox
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(o.c.id, o.c.message_id, o.c.subject, o.c.payload, o.c.headers)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            refused = await self._publish(rows)
            for row, cause in refused:
                await self._dead_letter(row, cause)
            if mark:  # durable at commit, i.e. only once every row is acked by its stream or by the DLQ
                ids = sa.bindparam("ids", [r.id for r in rows], type_=ARRAY(sa.BigInteger))
                await conn.execute(sa.update(o).where(o.c.id == sa.any_(ids)).values(published_at=datetime.now(UTC)))
        self._count(len(rows), refused)
        return len(rows)

    async def _publish(self, rows: Sequence[Any]) -> list[Refused]:
        """Publish ``rows`` in order and wait for their acks; returns the rows refused for good, with why.

        Raises when a failure may pass: then nothing of this batch is marked and all of it is published again.
        """
        refused: list[Refused] = []
        pending: list[tuple[Any, asyncio.Future[Any]]] = []
        try:
            for row in rows:
                data, headers = _message(row)
                cause = self._refusal(row.subject, data, headers)
                if cause is None:
                    try:
                        pending.append((row, await self.js.publish_async(row.subject, data, headers=headers)))
                        continue
                    except (MaxPayloadError, BadSubjectError) as exc:  # the checks above should have caught it
                        cause = publish_refusal(exc) or repr(exc)
                refused.append((row, cause))
            results = await self._acks(pending)
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
        for (row, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                cause = publish_refusal(result)
                if cause is None:
                    raise result
                refused.append((row, cause))
        return sorted(refused, key=lambda item: int(item[0].id))

    async def _acks(self, pending: list[tuple[Any, asyncio.Future[Any]]]) -> list[Any]:
        """Each row's ack (or the exception in its place), waiting at most ``ack_timeout_s`` for all of them.

        nats-py never resolves the ack future of a message JetStream answers with an *error* (its reply handler
        raises instead of setting the exception), so on timeout every row still unanswered is published again on
        its own, which does surface the error; a row that was stored after all is dropped as a duplicate.
        """
        futures = [future for _, future in pending]
        try:
            return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), self.ack_timeout_s)
        except TimeoutError:
            return [await self._ack_or_republish(row, future) for row, future in pending]

    async def _ack_or_republish(self, row: Any, future: asyncio.Future[Any]) -> Any:
        """The row's ack or refusal; raises at the first failure that may pass (NATS down: do not wait per row)."""
        if future.done() and not future.cancelled():
            return future.exception() or future.result()
        data, headers = _message(row)
        try:
            return await self.js.publish(row.subject, data, headers=headers, timeout=self.ack_timeout_s)
        except Exception as exc:
            if publish_refusal(exc) is None:
                raise
            return exc

    def _limit(self) -> int:
        return self.max_payload or int(self.js._nc.max_payload)

    def _refusal(self, subject: str, data: bytes, headers: Mapping[str, str]) -> str | None:
        """Checked before publishing: the client would raise after registering the ack future (which then leaks),
        and a message over max_payload only because of its headers makes the *server* close the connection."""
        if not _PUBLISHABLE.match(subject):
            return f"invalid subject {subject!r} (empty token, whitespace or wildcard)"
        size, limit = len(data) + headers_size(headers), self._limit()
        if size > limit:
            return f"MaxPayloadError: {size} bytes with headers, over the NATS server's max_payload of {limit}"
        return None

    async def _dead_letter(self, row: Any, cause: str) -> None:
        headers = _message(row)[1]
        letter = DeadLetter(
            service=self.service,
            original_subject=row.subject,
            headers=headers,
            payload="",
            error=f"unpublishable outbox row: {cause}",
            correlation_id=headers.get("Praxis-Correlation-Id"),
            causation_id=str(row.message_id),
        )
        dlq_headers = {"Nats-Msg-Id": f"dlq:outbox:{row.message_id}"}  # one letter, however often this is retried
        body = fit_dead_letter(letter, row.payload.encode(), self._limit() - headers_size(dlq_headers))
        await self.js.publish(dlq_subject(self.service), body, headers=dlq_headers, timeout=self.ack_timeout_s)

    def _count(self, settled: int, refused: list[Refused]) -> None:
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(settled - len(refused))
        for row, cause in refused:
            metrics.OUTBOX_DEAD_LETTERED.labels(self.service).inc()
            metrics.DEAD_LETTERS.labels(self.service, row.subject).inc()
            log.error(
                "outbox message %s dead-lettered instead of published: %s",
                row.message_id,
                cause,
                extra={"subject": row.subject, "message_id": row.message_id},
            )


def _message(row: Any) -> tuple[bytes, dict[str, str]]:
    """The payload and headers a row is published with (``Nats-Msg-Id`` = message id: duplicates are dropped)."""
    return row.payload.encode(), {**(row.headers or {}), "Nats-Msg-Id": str(row.message_id)}


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=timeout)
