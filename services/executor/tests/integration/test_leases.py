"""Ownership on the real schema: renewal finds an owner's runs, take-over only claims what nobody holds, two
replicas racing for the same runs never both get one, and a graceful stop hands everything over."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from praxis_contracts.runs import AssetAssignment, Assignment, RunStatus
from praxis_contracts.scheduler import RunQueued, RunScheduled
from praxis_executor.db.tables import runs
from praxis_executor.handlers.lifecycle import run_queued, run_scheduled
from praxis_executor.handlers.ownership import release_leases, renew_leases, take_over_runs

pytestmark = pytest.mark.integration


async def scheduled_run(tx, owner, run_id: str) -> None:
    await tx(run_queued, RunQueued(run_id=run_id, protocol_id="p", protocol_name="p", source_hash="h", function="f"))
    asset = AssetAssignment(requirement="lh", kind="machine", bench_id="b1", machine="lh")
    await tx(
        run_scheduled,
        RunScheduled(
            run_id=run_id, protocol_id="p", source_hash="h", function="f", assignment=Assignment(assets=[asset])
        ),
        owner=owner,
    )


async def expire(executor_uow, run_ids: list[str]) -> None:
    async with executor_uow() as uow:
        await uow.session.execute(
            sa.update(runs)
            .where(runs.c.id.in_(run_ids))
            .values(lease_expires_at=sa.func.now() - sa.text("interval '1 minute'"))
        )
        await uow.commit()


async def test_renewal_returns_the_owners_active_runs(tx, owner, unique_id) -> None:
    await scheduled_run(tx, owner, f"r1-{unique_id}")
    owned = await tx(renew_leases, owner.instance)
    assert [(o.run_id, o.status) for o in owned] == [(f"r1-{unique_id}", RunStatus.STARTING)]
    assert await tx(renew_leases, f"someone-else-{unique_id}") == []


async def test_a_live_lease_is_not_taken_over_an_expired_one_is(tx, executor_uow, owner, unique_id) -> None:
    run_id = f"r2-{unique_id}"
    await scheduled_run(tx, owner, run_id)
    thief = f"thief-{unique_id}"
    assert run_id not in await tx(take_over_runs, thief, 100)
    await expire(executor_uow, [run_id])
    assert run_id in await tx(take_over_runs, thief, 100)
    assert [o.run_id for o in await tx(renew_leases, thief)] == [run_id]
    assert await tx(renew_leases, owner.instance) == []


async def test_two_replicas_racing_never_claim_the_same_run(tx, executor_uow, owner, unique_id) -> None:
    ids = [f"race{i}-{unique_id}" for i in range(20)]
    for run_id in ids:
        await scheduled_run(tx, owner, run_id)
    await expire(executor_uow, ids)
    a, b = await asyncio.gather(*(tx(take_over_runs, f"{who}-{unique_id}", 100) for who in ("a", "b")))
    mine = set(ids)
    assert not (set(a) & set(b) & mine)
    assert (set(a) | set(b)) >= mine


async def test_release_hands_every_active_run_over(tx, owner, unique_id) -> None:
    run_id = f"r3-{unique_id}"
    await scheduled_run(tx, owner, run_id)
    assert await tx(release_leases, owner.instance) == 1
    assert run_id in await tx(take_over_runs, f"next-{unique_id}", 100)
