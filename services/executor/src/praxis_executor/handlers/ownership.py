"""Which executor instance drives which run: lease renewal, take-over of runs whose owner vanished, hand-over on a
graceful stop, and telling the scheduler that owned runs still hold their assets."""

from __future__ import annotations

from praxis_contracts.executor import RunLeaseRenewed
from praxis_executor.handlers.ports import OwnedRun, UnitOfWork


async def renew_leases(owner: str, uow: UnitOfWork) -> list[OwnedRun]:
    """Extend ``owner``'s leases; the runs returned are what it must drive (a restarted instance with the same
    name finds its runs here and reclaims them at once)."""
    return await uow.leases.renew(owner)


async def take_over_runs(owner: str, limit: int, uow: UnitOfWork) -> list[str]:
    return await uow.leases.take_over(owner, limit)


async def release_leases(owner: str, uow: UnitOfWork) -> int:
    return await uow.leases.release_all(owner)


async def renew_reservations(run_ids: list[str], extend_s: float, uow: UnitOfWork) -> None:
    """Every active run keeps its reservations, parked ones included: their decks are mid-protocol."""
    for run_id in run_ids:
        uow.publish(RunLeaseRenewed(run_id=run_id, extend_s=extend_s, correlation_id=run_id))
