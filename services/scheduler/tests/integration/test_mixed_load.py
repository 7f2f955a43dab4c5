"""Placement passes, calendar bookings and finishing runs, all at once: never a double booking, never stuck."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import sqlalchemy as sa

from praxis_contracts.base import ErrorReply
from praxis_contracts.executor import RunFinished
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import BookReservation, RunScheduled
from praxis_scheduler.handlers.benches import project_bench_announced
from praxis_scheduler.handlers.reservations import book_reservation
from praxis_scheduler.handlers.runs import release_finished_run, submit_run

OVERLAPS = """
    SELECT count(*) FROM scheduler.reservations r1 JOIN scheduler.reservations r2
      ON r1.asset_id = r2.asset_id AND r1.id < r2.id AND r1.during && r2.during
    WHERE r1.released_at IS NULL AND r2.released_at IS NULL
"""


class TestMixedLoad:
    async def test_runs_bookings_and_finishes_interleaved_never_double_book(
        self, handle, published, engine, kit, clock
    ):
        machines = [kit.liquid_handler(f"lh{i}", resources=(kit.plate(f"p{i}"),)) for i in range(3)]
        await handle(project_bench_announced, kit.announce("b1", *machines))
        submitted: list[str] = []

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(12):
                action = rng.random()
                if action < 0.5:
                    cmd = kit.submit(kit.lh_req(), kit.plate_req(), estimated_duration_s=600)
                    submitted.append(cmd.run_id)
                    await handle(submit_run, cmd)
                elif action < 0.8:
                    start = clock.now + timedelta(minutes=rng.randrange(0, 120, 5))
                    target = rng.choice(["b1/lh0", "b1/lh1", "b1/lh2", "b1/lh0/p0", "b1"])
                    reply = await handle(
                        book_reservation,
                        BookReservation(
                            asset_id=target, owner=f"user{seed}", starts_at=start, ends_at=start + timedelta(minutes=30)
                        ),
                    )
                    assert not isinstance(reply, ErrorReply) or reply.code == "conflict"
                elif submitted:
                    run_id = rng.choice(submitted)
                    await handle(release_finished_run, RunFinished(run_id=run_id, seq=1, status=RunStatus.COMPLETED))

        await asyncio.gather(*(worker(seed) for seed in range(6)))
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text(OVERLAPS))).scalar_one() == 0
        scheduled = [s.run_id for s in await published(RunScheduled)]
        assert len(scheduled) == len(set(scheduled))  # no run scheduled twice
        assert scheduled  # the load did place runs
