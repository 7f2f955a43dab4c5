"""``WS /runs/{run_id}/events?after=<seq>``: the run's events in order, backlog first, then live.

Frames are JSON text ``{"seq", "type", "event"}``. The socket closes with 1000 after ``RunFinished``, 4404 when
no service knows the run, and 1011 when the executor cannot be asked. The ``RunFinished`` that closes it is
always the one in the executor's store: a live final event only makes the stream page the store (see
:mod:`praxis_gateway.events`), so an event forged on the bus can neither be shown out of order nor end a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from praxis_contracts.executor import GetRun, GetRunEvents, RunDetail, RunEventPage
from praxis_gateway.api.deps import RuntimeDep, WebSocketUser
from praxis_gateway.bus import Bus
from praxis_gateway.events import Frame, PageFetcher, backlog, follow
from praxis_gateway.lookups import queue_entry
from praxis_gateway.metrics import WEBSOCKETS, WS_FRAMES
from praxis_gateway.runtime import Runtime
from praxis_servicekit.queries import QueryFailed

router = APIRouter(tags=["runs"])
log = logging.getLogger(__name__)

CLOSE_NORMAL = 1000
CLOSE_INTERNAL = 1011
CLOSE_NOT_FOUND = 4404
UNKNOWN_RUN_POLL_S = 0.2


class RunUnknown(Exception):
    pass


def page_fetcher(bus: Bus, run_id: str, page_size: int) -> PageFetcher:
    async def fetch(after: int) -> tuple[list[Frame], int]:
        try:
            page = await bus.ask(GetRunEvents(run_id=run_id, after=after, limit=page_size), RunEventPage)
        except QueryFailed as exc:
            if exc.reply.code == "not_found" and await queue_entry(bus, run_id) is not None:
                return [], after  # queued: only the scheduler knows it yet; live events will follow
            raise
        return [Frame(e.seq, e.type, e.event) for e in page.events], page.last_seq

    return fetch


async def find_run(bus: Bus, run_id: str, grace_s: float) -> RunDetail | None:
    """The executor's view of the run, None while only the scheduler has it; :class:`RunUnknown` when nobody
    has it after ``grace_s`` (a run submitted a moment ago may still be on its way to the scheduler)."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            return await bus.ask(GetRun(run_id=run_id), RunDetail)
        except QueryFailed as exc:
            if exc.reply.code != "not_found":
                raise
        if await queue_entry(bus, run_id) is not None:
            return None
        if time.monotonic() >= deadline:
            raise RunUnknown(run_id)
        await asyncio.sleep(UNKNOWN_RUN_POLL_S)


async def send_frames(websocket: WebSocket, runtime: Runtime, run_id: str, after: int) -> tuple[int, str]:
    """Send frames until ``RunFinished``; returns the close code and reason."""
    settings = runtime.settings
    with runtime.hub.listen(run_id) as listener:  # listen first: nothing published while we page is lost
        try:
            detail = await find_run(runtime.bus, run_id, settings.ws_unknown_run_grace_s)
        except RunUnknown:
            return CLOSE_NOT_FOUND, f"run {run_id} not found"
        fetch = page_fetcher(runtime.bus, run_id, settings.event_page_size)
        finished = detail is not None and detail.status.terminal
        frames = (
            backlog(fetch, after)
            if finished
            else follow(listener, fetch, after, gap_timeout_s=settings.ws_gap_timeout_s)
        )
        async with contextlib.aclosing(frames):
            async for frame in frames:
                await websocket.send_text(frame.to_json())
                WS_FRAMES.inc()
                if frame.final:  # from the store (backlog and follow never pass a live final event on)
                    break
    return CLOSE_NORMAL, "run finished"


async def wait_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.websocket("/runs/{run_id}/events")
async def stream_run_events(
    websocket: WebSocket, runtime: RuntimeDep, _user: WebSocketUser, run_id: str, after: int = 0
) -> None:
    """Stream a run's events in seq order, from the beginning or after ``after``."""
    await websocket.accept()
    WEBSOCKETS.inc()
    sender = asyncio.create_task(send_frames(websocket, runtime, run_id, max(after, 0)))
    watcher = asyncio.create_task(wait_disconnect(websocket))
    try:
        done, _ = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        WEBSOCKETS.dec()
        for task in (sender, watcher):
            task.cancel()
        result, _ = await asyncio.gather(sender, watcher, return_exceptions=True)
    if sender not in done:
        return  # the client left
    code, reason = _close_reason(result)
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code, reason)


def _close_reason(result: tuple[int, str] | BaseException) -> tuple[int, str]:
    if isinstance(result, tuple):
        return result
    if isinstance(result, QueryFailed):
        return CLOSE_INTERNAL, result.reply.detail[:120]
    log.error("run event stream failed", exc_info=result)
    return CLOSE_INTERNAL, f"internal error: {type(result).__name__}"[:120]
