"""Run events for WebSocket clients: one NATS subscription fanned out per run, merged with the executor's backlog.

Ordering contract (what a client can rely on): frames arrive in ``seq`` order, each seq once, starting after the
``after`` the client asked for. That holds because a client's listener is registered *before* the backlog is
paged (so nothing published meanwhile is lost), frames at or below the last sent seq are dropped (so nothing is
sent twice), and a live frame that skips ahead makes us page the backlog again to fill the hole (core NATS may
drop a message; the executor's store does not).

Fan-out: the hub never waits on a client. Each listener has a bounded queue; when a slow client lets it fill up,
the listener is marked overflowed and its stream re-pages from the executor instead of losing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from praxis_contracts.registry import UnknownSubject, class_for

log = logging.getLogger(__name__)

EXECUTOR_EVENTS = "praxis.executor.evt.>"
GAP_RETRY_S = 0.25
FINAL_EVENT = "RunFinished"


@dataclass(frozen=True)
class Frame:
    """One run event as sent to a client: ``{"seq", "type", "event"}``."""

    seq: int
    type: str
    event: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "type": self.type, "event": self.event}, default=str)

    @property
    def final(self) -> bool:
        return self.type == FINAL_EVENT


PageFetcher = Callable[[int], Awaitable[tuple[list[Frame], int]]]
"""``fetch(after) -> (frames with seq > after, the run's last stored seq)``."""


@dataclass(eq=False)
class Listener:
    run_id: str
    queue: asyncio.Queue[Frame]
    overflowed: bool = False

    def offer(self, frame: Frame) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True


@dataclass
class EventHub:
    nc: Client
    queue_size: int = 1000
    _listeners: dict[str, set[Listener]] = field(default_factory=dict)
    _sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(
            EXECUTOR_EVENTS, cb=self._on_message, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        await self.nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    @contextlib.contextmanager
    def listen(self, run_id: str) -> Iterator[Listener]:
        listener = Listener(run_id, asyncio.Queue(self.queue_size))
        self._listeners.setdefault(run_id, set()).add(listener)
        try:
            yield listener
        finally:
            listeners = self._listeners.get(run_id, set())
            listeners.discard(listener)
            if not listeners:
                self._listeners.pop(run_id, None)

    @property
    def listener_count(self) -> int:
        return sum(len(v) for v in self._listeners.values())

    async def _on_message(self, msg: Msg) -> None:
        if not self._listeners:
            return
        frame = frame_from_message(msg)
        if frame is None:
            return
        for listener in self._listeners.get(str(frame.event.get("run_id")), ()):
            listener.offer(frame)


def frame_from_message(msg: Msg) -> Frame | None:
    """A frame from a published run event, or None for anything else (lease renewals, bad JSON)."""
    try:
        event = json.loads(msg.data)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("seq"), int) or "run_id" not in event:
        return None
    return Frame(seq=event["seq"], type=_type_name(msg), event=event)


def _type_name(msg: Msg) -> str:
    declared = (msg.headers or {}).get("Praxis-Type")
    if declared:
        return declared
    try:
        return class_for(msg.subject).__name__
    except UnknownSubject:
        return msg.subject.split(".")[-2]


async def backlog(fetch: PageFetcher, after: int) -> AsyncGenerator[Frame, None]:
    """Every stored frame with seq > ``after``, page by page, in order."""
    last = after
    while True:
        frames, last_stored = await fetch(last)
        fresh = [f for f in sorted(frames, key=lambda f: f.seq) if f.seq > last]
        for frame in fresh:
            yield frame
            last = frame.seq
        if not fresh or last >= last_stored:
            return


async def follow(
    listener: Listener, fetch: PageFetcher, after: int, *, gap_timeout_s: float = 10.0
) -> AsyncGenerator[Frame, None]:
    """The backlog after ``after``, then live frames; in seq order, without gaps or duplicates."""
    last = after
    async for frame in backlog(fetch, last):
        yield frame
        last = frame.seq
    pending: dict[int, Frame] = {}
    gap_since: float | None = None
    while True:
        try:
            frame = await asyncio.wait_for(listener.queue.get(), GAP_RETRY_S if pending else None)
            if frame.seq > last:
                pending[frame.seq] = frame
        except TimeoutError:
            pass
        if listener.overflowed or (pending and min(pending) > last + 1):
            listener.overflowed = False
            async for frame in backlog(fetch, last):
                pending.pop(frame.seq, None)
                yield frame
                last = frame.seq
        while last + 1 in pending:
            frame = pending.pop(last + 1)
            yield frame
            last = frame.seq
        pending = {seq: f for seq, f in pending.items() if seq > last}
        if not pending:
            gap_since = None
            continue
        gap_since = gap_since or time.monotonic()
        if time.monotonic() - gap_since > gap_timeout_s:
            log.warning(
                "run %s: events %d..%d never arrived; skipping ahead",
                listener.run_id,
                last + 1,
                min(pending) - 1,
                extra={"run_id": listener.run_id},
            )
            last = min(pending) - 1
            gap_since = None
