"""Run events for WebSocket clients: one NATS subscription fanned out per run, merged with the executor's backlog.

Ordering contract (what a client can rely on): frames arrive in ``seq`` order, each seq once, starting after the
``after`` the client asked for. That holds because a client's listener is registered *before* the backlog is
paged (so nothing published meanwhile is lost), frames at or below the last sent seq are dropped (so nothing is
sent twice), and a live frame that skips ahead makes us page the backlog again to fill the hole (core NATS may
drop a message; the executor's store does not).

Trust: anyone on the bus can publish on ``praxis.executor.evt.>``; the executor's store is the truth (it stores
each event before it publishes it). A live frame is forwarded only when it is consistent: its subject names a
run event class, its payload validates as that class (and says that class in ``Praxis-Type``, if it says one),
its ``run_id`` is the listener's run and its ``seq`` is exactly the next one. Anything else is dropped (logged
and counted in ``praxis_gateway_ws_frames_dropped_total{reason}``); a frame that skips ahead may mean real
events were missed, so it makes us page the store, and only what the store returns is sent. ``RunFinished``
closes a client's socket, so a live one is never forwarded itself: it only makes us page the store, and the
socket closes on the store's final event. A forged final event therefore never closes a client.

Fan-out: the hub never waits on a client. Each listener has a bounded queue; when a slow client lets it fill up,
the listener is marked overflowed and its stream re-pages from the executor instead of losing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter
from pydantic import ValidationError

from praxis_contracts.executor import RunEvent
from praxis_contracts.registry import UnknownSubject, class_for
from praxis_servicekit.bus import sync_with_server

log = logging.getLogger(__name__)

EXECUTOR_EVENTS = "praxis.executor.evt.>"
GAP_RETRY_S = 0.25
FINAL_EVENT = "RunFinished"

DropReason = Literal["unknown_subject", "invalid", "type_mismatch", "other_run", "duplicate", "unconfirmed"]
FRAMES_DROPPED = Counter(
    "praxis_gateway_ws_frames_dropped_total",
    "Live run-event frames not forwarded to WebSocket clients (inconsistent, repeated or not in the store)",
    ["reason"],
)


def dropped(reason: DropReason, detail: str, *, run_id: str | None = None, quiet: bool = False) -> None:
    """Count and log a live frame that is not forwarded (``quiet``: an expected repeat, logged at debug)."""
    FRAMES_DROPPED.labels(reason).inc()
    log.log(
        logging.DEBUG if quiet else logging.WARNING,
        "run event dropped (%s): %s",
        reason,
        detail,
        extra={"run_id": run_id} if run_id else None,
    )


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

    @property
    def run_id(self) -> str:
        return str(self.event.get("run_id", ""))


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
        await sync_with_server(self.nc)

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
        for listener in self._listeners.get(frame.run_id, ()):
            listener.offer(frame)


def frame_from_message(msg: Msg) -> Frame | None:
    """A frame from a published run event, validated as the run event class its subject names; None for other
    executor events (lease renewals) and for anything inconsistent (dropped, logged and counted)."""
    try:
        cls = class_for(msg.subject)
    except UnknownSubject:
        dropped("unknown_subject", f"no run event is published on {msg.subject}")
        return None
    if not issubclass(cls, RunEvent):
        return None
    declared = (msg.headers or {}).get("Praxis-Type")
    if declared and declared != cls.__name__:
        dropped("type_mismatch", f"{msg.subject} carries {cls.__name__}, but the message says {declared}")
        return None
    try:
        event = cls.model_validate_json(msg.data)
    except ValidationError as exc:
        dropped("invalid", f"{msg.subject} is not a valid {cls.__name__}: {exc.error_count()} errors")
        return None
    assert isinstance(event, RunEvent)
    return Frame(seq=event.seq, type=cls.__name__, event=event.model_dump(mode="json"))


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


Verdict = Literal["send", "drop", "confirm"]


def judge(frame: Frame, run_id: str, last: int) -> Verdict:
    """What to do with a live frame after ``last`` was sent: send it, drop it, or have the store confirm it
    (it skips ahead, so real events may be missing before it, or it is the final event)."""
    if frame.run_id != run_id:
        dropped("other_run", f"a frame of run {frame.run_id!r} reached a listener of run {run_id}", run_id=run_id)
        return "drop"
    if frame.seq <= last:
        dropped("duplicate", f"seq {frame.seq} of run {run_id} was already sent", run_id=run_id, quiet=True)
        return "drop"
    if frame.seq == last + 1 and not frame.final:
        return "send"
    return "confirm"


@dataclass
class Unconfirmed:
    """Live frames only the store may vouch for, with when the store was last asked about them."""

    gap_timeout_s: float
    frames: dict[int, Frame] = field(default_factory=dict)
    since: float = 0.0
    asked_at: float = -math.inf

    def __bool__(self) -> bool:
        return bool(self.frames)

    def add(self, frame: Frame) -> None:
        if not self.frames:
            self.since = time.monotonic()
        self.frames[frame.seq] = frame

    def due(self) -> bool:
        """Ask the store now: at once for a new batch, then every ``GAP_RETRY_S``."""
        return bool(self.frames) and time.monotonic() - self.asked_at >= GAP_RETRY_S

    def asked(self) -> None:
        self.asked_at = time.monotonic()

    def settle(self, last: int, run_id: str) -> None:
        """Forget what the store has sent past; drop (and count) what it never confirmed in ``gap_timeout_s``."""
        self.frames = {seq: f for seq, f in self.frames.items() if seq > last}
        if self.frames and time.monotonic() - self.since > self.gap_timeout_s:
            for seq, f in sorted(self.frames.items()):
                dropped(
                    "unconfirmed", f"{f.type} seq {seq} of run {run_id} is not in the executor's store", run_id=run_id
                )
            self.frames = {}
        if not self.frames:
            self.asked_at = -math.inf


async def follow(
    listener: Listener, fetch: PageFetcher, after: int, *, gap_timeout_s: float = 10.0
) -> AsyncGenerator[Frame, None]:
    """The backlog after ``after``, then live frames; in seq order, without gaps or duplicates. A live frame
    that is not the next one (or is final) is never sent itself: it makes us page the store, again every
    ``GAP_RETRY_S`` for up to ``gap_timeout_s``; what the store never confirms is dropped."""
    last = after
    async for frame in backlog(fetch, last):
        yield frame
        last = frame.seq
    unconfirmed = Unconfirmed(gap_timeout_s)
    while True:
        live = await _next_live(listener, GAP_RETRY_S if unconfirmed else None)
        verdict = judge(live, listener.run_id, last) if live is not None else "drop"
        if live is not None and verdict == "send":
            yield live
            last = live.seq
        elif live is not None and verdict == "confirm":
            unconfirmed.add(live)
        if listener.overflowed or unconfirmed.due():
            listener.overflowed = False
            unconfirmed.asked()
            async for stored in backlog(fetch, last):
                yield stored
                last = stored.seq
        unconfirmed.settle(last, listener.run_id)


async def _next_live(listener: Listener, timeout: float | None) -> Frame | None:
    try:
        return await asyncio.wait_for(listener.queue.get(), timeout)
    except TimeoutError:
        return None
