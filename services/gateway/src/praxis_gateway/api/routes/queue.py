"""The scheduler's run queue: position, ETA and why each run waits."""

from __future__ import annotations

from fastapi import APIRouter

from praxis_contracts.scheduler import GetQueue, QueueReply
from praxis_gateway.api.deps import BusDep
from praxis_gateway.api.schemas import QueueOut

router = APIRouter(prefix="/queue", tags=["queue"])


@router.get("", response_model=QueueOut)
async def read_queue(bus: BusDep) -> QueueReply:
    """Show the run queue with positions, ETAs and reasons for waiting."""
    return await bus.ask(GetQueue(), QueueReply)
