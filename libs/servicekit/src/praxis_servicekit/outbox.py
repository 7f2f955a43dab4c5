"""The outbox relay: publishes committed outbox rows to JetStream, then marks them sent.

A crash between publishing and marking is safe: the row is published again with the same ``Nats-Msg-Id``
(= the message id), which JetStream drops inside the stream's duplicate window, and consumers' inboxes drop any
copy that slips past it. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several replicas can relay at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from nats.js import JetStreamContext
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_servicekit import metrics

log = logging.getLogger(__name__)


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
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.js = js
        self.service = service
        self.batch = batch
        self.poll_s = poll_s
        self.ack_timeout_s = ack_timeout_s
        self._wake = asyncio.Event()
        self._stopping = False

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: relay now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped; on stop, drain what is committed so nothing waits for the next boot."""
        while not self._stopping:
            try:
                while await self.relay_once():
                    pass
            except Exception:  # NATS or PG hiccup: rows stay unsent and are retried
                log.exception("outbox relay failed; retrying")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
        try:
            while await self.relay_once():
                pass
        except Exception:
            log.exception("outbox drain at shutdown failed; rows will be sent at next start")

    async def relay_once(self, *, mark: bool = True) -> int:
        """Publish one batch of unsent rows; returns how many were published.

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
            futures: list[Any] = []
            try:
                for row in rows:
                    headers = {**(row.headers or {}), "Nats-Msg-Id": str(row.message_id)}
                    futures.append(await self.js.publish_async(row.subject, row.payload.encode(), headers=headers))
                acks = asyncio.gather(*futures)
                if mark:
                    # Marked while the acks come in; the mark only becomes durable at commit, after every ack, and
                    # a failed publish rolls it back. One array parameter instead of an IN list of ``batch`` params.
                    ids = sa.bindparam("ids", [r.id for r in rows], type_=ARRAY(sa.BigInteger))
                    await conn.execute(
                        sa.update(o).where(o.c.id == sa.any_(ids)).values(published_at=datetime.now(UTC))
                    )
                # Bounded: a lost ack must not hold the row locks (and the relay) forever; unmarked rows are retried.
                await asyncio.wait_for(acks, timeout=self.ack_timeout_s)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)
