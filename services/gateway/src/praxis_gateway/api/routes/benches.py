"""Benches with their machines, online status and last heartbeat (the scheduler's projection)."""

from __future__ import annotations

from fastapi import APIRouter

from praxis_contracts.hardware import BenchList, ListBenches
from praxis_gateway.api.deps import BusDep
from praxis_gateway.api.schemas import BenchesOut

router = APIRouter(prefix="/benches", tags=["benches"])


@router.get("", response_model=BenchesOut)
async def read_benches(bus: BusDep) -> BenchList:
    """List benches with their machines and online status."""
    return await bus.ask(ListBenches(), BenchList)
