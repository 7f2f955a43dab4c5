"""Small read helpers several routes share."""

from __future__ import annotations

from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply
from praxis_gateway.bus import Bus
from praxis_servicekit.queries import QueryFailed


async def queue_entry(bus: Bus, run_id: str) -> QueueEntry | None:
    """The scheduler's queue entry for ``run_id``; None when it is not queued (or the scheduler cannot say)."""
    try:
        queue = await bus.ask(GetQueue(), QueueReply)
    except QueryFailed:
        return None
    return next((e for e in queue.entries if e.run_id == run_id), None)
