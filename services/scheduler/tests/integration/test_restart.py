"""A restarted scheduler (new engine, new unit-of-work factory, same database) keeps reservations and queue."""

from __future__ import annotations

from datetime import timedelta

from praxis_contracts.executor import RunFinished
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import BookReservation, GetQueue, ListReservations, RunScheduled
from praxis_scheduler.db.tables import metadata
from praxis_scheduler.handlers.benches import project_bench_announced
from praxis_scheduler.handlers.queue import get_queue
from praxis_scheduler.handlers.reservations import book_reservation, list_reservations
from praxis_scheduler.handlers.runs import release_finished_run, submit_run
from praxis_servicekit.db import UnitOfWorkFactory, make_engine


class TestRestart:
    async def test_reservations_and_queue_survive_a_restart(self, handle, scheduler_dsn, engine, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star"), kit.reader("r")))
        running, waiting = kit.submit(kit.lh_req()), kit.submit(kit.lh_req())
        await handle(submit_run, running)
        await handle(submit_run, waiting)
        await handle(
            book_reservation,
            BookReservation(
                asset_id="b1/r", owner="alice", starts_at=clock.now, ends_at=clock.now + timedelta(hours=2)
            ),
        )
        await engine.dispose()

        restarted = make_engine(scheduler_dsn)
        uows = UnitOfWorkFactory(restarted, metadata)
        try:
            async with uows() as uow:
                listed = await list_reservations(ListReservations(), uow, clock=clock)
                queue = await get_queue(GetQueue(), uow, clock=clock)
            assert sorted((r.asset_id, r.owner) for r in listed.reservations) == [
                ("b1/r", "alice"),
                ("b1/star", running.run_id),
            ]
            assert [(e.run_id, e.status) for e in queue.entries] == [
                (running.run_id, "scheduled"),
                (waiting.run_id, "queued"),
            ]
            async with uows() as uow:
                await release_finished_run(
                    RunFinished(run_id=running.run_id, seq=5, status=RunStatus.FAILED), uow, clock=clock
                )
                await uow.commit()
        finally:
            await restarted.dispose()
        assert [s.run_id for s in await published(RunScheduled)] == [running.run_id, waiting.run_id]
