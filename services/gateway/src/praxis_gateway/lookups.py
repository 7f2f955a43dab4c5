"""Small read helpers several routes share."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from praxis_contracts.executor import GetRun, RunDetail
from praxis_contracts.runs import Parked, RunStatus
from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply
from praxis_gateway.bus import Bus
from praxis_gateway.errors import ApiError
from praxis_servicekit.queries import QueryFailed

SUBMIT_GRACE_S = 2.0


async def queue_entry(bus: Bus, run_id: str) -> QueueEntry | None:
    """The scheduler's queue entry for ``run_id``; None when it is not queued (or the scheduler cannot say)."""
    try:
        queue = await bus.ask(GetQueue(), QueueReply)
    except QueryFailed:
        return None
    return next((e for e in queue.entries if e.run_id == run_id), None)


@dataclass(frozen=True)
class RunState:
    """What a control route must know before it sends a command: the status and what is already asked of it."""

    status: RunStatus
    pause_requested: bool = False
    parked: Parked | None = None


async def run_state(bus: Bus, run_id: str, *, grace_s: float = SUBMIT_GRACE_S) -> RunState:
    """The run's state from the executor (no journal: ``steps_limit=0``), ``queued`` when only the scheduler's
    queue holds it, :class:`ApiError` 404 when neither knows it after ``grace_s`` (a run accepted a moment ago may
    still be on its way to the scheduler: a cancel right after the submit must not be told "no such run").

    Unlike :func:`queue_entry`, a scheduler that cannot answer is a 503 here, not "no such run": a command must
    not be refused as unknown only because the queue could not be read.
    """
    deadline = time.monotonic() + grace_s
    while True:
        try:
            detail = await bus.ask(GetRun(run_id=run_id, steps_limit=0), RunDetail)
        except QueryFailed as exc:
            if exc.reply.code != "not_found":
                raise
            queue = await bus.ask(GetQueue(), QueueReply)
            if any(e.run_id == run_id for e in queue.entries):
                return RunState(RunStatus.QUEUED)
            if time.monotonic() >= deadline:
                raise ApiError(404, f"no run {run_id}") from exc
            await asyncio.sleep(0.1)
            continue
        return RunState(detail.status, detail.pause_requested, detail.parked)
