"""Submitting runs, placing them, finishing them: the handlers on real Postgres, events read from the outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.executor import RunFinished, RunStarted
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import (
    ReservationReleased,
    RunQueued,
    RunRejected,
    RunScheduled,
    RunWaiting,
)
from praxis_scheduler.adapters import booking as booking_repo
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.adapters import runs as runs_repo
from praxis_scheduler.db.tables import runs
from praxis_scheduler.handlers.benches import project_bench_announced
from praxis_scheduler.handlers.runs import record_run_started, release_finished_run, submit_run


async def status_of(engine, run_id: str) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(sa.select(runs.c.status).where(runs.c.run_id == run_id))).scalar_one())


async def held_by(engine, run_id: str) -> list[str]:
    async with AsyncSession(engine) as session:
        return sorted(r.asset_id for r in await reservations_repo.active_for_owner(session, "run", run_id))


def finished(run_id: str, status: RunStatus = RunStatus.COMPLETED, **kw) -> RunFinished:
    return RunFinished(run_id=run_id, seq=9, status=status, **kw)


class TestSubmitRun:
    async def test_a_placeable_run_is_queued_then_scheduled_with_its_assignment(
        self, handle, published, engine, kit, clock
    ):
        await handle(
            project_bench_announced, kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p1"),)))
        )
        cmd = kit.submit(kit.lh_req(), kit.plate_req())
        await handle(submit_run, cmd)
        [queued] = await published(RunQueued)
        [scheduled] = await published(RunScheduled)
        assert queued.run_id == scheduled.run_id == cmd.run_id
        assert [(a.requirement, a.asset_id) for a in scheduled.assignment.assets] == [
            ("lh", "b1/star"),
            ("plate", "b1/star/p1"),
        ]
        assert scheduled.assignment.lease_expires_at == clock.now + timedelta(minutes=10)
        assert len(scheduled.assignment.reservation_ids) == 2
        assert scheduled.correlation_id == cmd.run_id and scheduled.causation_id == str(cmd.message_id)
        assert await held_by(engine, cmd.run_id) == ["b1/star", "b1/star/p1"]
        assert await status_of(engine, cmd.run_id) == "scheduled"

    async def test_a_second_submit_of_the_same_run_has_no_effect(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        cmd = kit.submit(kit.lh_req())
        await handle(submit_run, cmd)
        await handle(submit_run, cmd.model_copy(update={"message_id": cmd.message_id.__class__(int=1)}))
        assert len(await published(RunQueued)) == 1
        assert len(await published(RunScheduled)) == 1

    async def test_an_impossible_run_is_rejected_with_a_reason(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("ot2")))
        cmd = kit.submit(kit.lh_req("lh", "96_head"))
        await handle(submit_run, cmd)
        [rejected] = await published(RunRejected)
        assert rejected.run_id == cmd.run_id
        assert "no liquid handler with 96_head on any bench" in rejected.reason
        assert await status_of(engine, cmd.run_id) == "rejected"

    async def test_a_refused_pin_rejects_instead_of_substituting(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b")))
        await handle(submit_run, kit.submit(kit.lh_req(), pins={"lh": "b1/zz"}))
        [rejected] = await published(RunRejected)
        assert "pinned to b1/zz" in rejected.reason
        assert await published(RunScheduled) == []

    async def test_a_run_whose_assets_are_busy_waits_and_says_why(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        first = kit.submit(kit.lh_req())
        second = kit.submit(kit.lh_req())
        await handle(submit_run, first)
        await handle(submit_run, second)
        [waiting] = await published(RunWaiting)
        assert waiting.run_id == second.run_id
        assert f"b1/star is reserved by run {first.run_id[:8]}" in waiting.reason
        assert await status_of(engine, second.run_id) == "queued"

    async def test_a_multi_asset_run_gets_all_or_nothing(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star"), kit.reader("r")))
        reader_only = kit.submit(kit.reader_req())
        both = kit.submit(kit.lh_req(), kit.reader_req())
        await handle(submit_run, reader_only)
        await handle(submit_run, both)
        assert await held_by(engine, both.run_id) == []  # the free liquid handler was not taken alone
        await handle(release_finished_run, finished(reader_only.run_id))
        assert await held_by(engine, both.run_id) == ["b1/r", "b1/star"]


class TestRunFinished:
    async def test_finishing_releases_at_once_and_the_waiting_run_is_placed(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        first, second = kit.submit(kit.lh_req()), kit.submit(kit.lh_req())
        await handle(submit_run, first)
        await handle(submit_run, second)
        await handle(release_finished_run, finished(first.run_id, RunStatus.CANCELLED))
        [released] = await published(ReservationReleased)
        assert (released.run_id, released.asset_id, released.reason) == (first.run_id, "b1/star", "run cancelled")
        assert [s.run_id for s in await published(RunScheduled)] == [first.run_id, second.run_id]
        assert await status_of(engine, first.run_id) == "cancelled"

    async def test_a_cancelled_runs_assets_are_bookable_at_once(self, handle, engine, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        await handle(release_finished_run, finished(run.run_id, RunStatus.CANCELLED))
        async with AsyncSession(engine) as session, session.begin():
            rows = await booking_repo.book(
                session,
                booking_repo.Booking(("b1/star",), clock.now, clock.now + timedelta(hours=1), "user", "bob"),
                now=clock.now,
            )
        assert [r.asset_id for r in rows] == ["b1/star"]

    async def test_a_run_finished_before_it_was_submitted_is_never_scheduled(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(release_finished_run, finished(run.run_id, RunStatus.CANCELLED))
        await handle(submit_run, run)
        assert await published(RunScheduled) == []
        assert await status_of(engine, run.run_id) == "cancelled"

    async def test_a_queued_run_cancelled_leaves_the_queue(self, handle, published, engine, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        first, second, third = (kit.submit(kit.lh_req()) for _ in range(3))
        for cmd in (first, second, third):
            await handle(submit_run, cmd)
        await handle(release_finished_run, finished(second.run_id, RunStatus.CANCELLED))
        await handle(release_finished_run, finished(first.run_id))
        assert [s.run_id for s in await published(RunScheduled)] == [first.run_id, third.run_id]

    async def test_durations_of_finished_runs_feed_the_protocols_estimate(self, handle, engine, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        for minutes in (10, 20, 60):
            run = kit.submit(kit.lh_req(), protocol_id="proto-d")
            await handle(submit_run, run)
            start = clock.now
            await handle(record_run_started, RunStarted(run_id=run.run_id, seq=1, assignment={}, occurred_at=start))
            await handle(release_finished_run, finished(run.run_id, occurred_at=start + timedelta(minutes=minutes)))
        async with AsyncSession(engine) as session:
            history = await runs_repo.duration_history(session, "proto-d", 50)
        assert sorted(history) == [600.0, 1200.0, 3600.0]


class TestRedelivery:
    async def test_a_repeated_run_finished_releases_once(self, handle, published, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        done = finished(run.run_id)
        await handle(release_finished_run, done)
        await handle(release_finished_run, done.model_copy(update={"message_id": uuid.uuid4()}))
        assert len(await published(ReservationReleased)) == 1


class TestConcurrentPlacement:
    async def test_two_runs_submitted_at_once_for_one_machine_get_it_one_after_the_other(
        self, handle, published, engine, kit
    ):
        """Two consumers (or replicas) handle two submissions concurrently: placement passes are serialised,
        so exactly one run gets the machine and the other waits."""
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        runs_ = [kit.submit(kit.lh_req()) for _ in range(2)]
        await asyncio.gather(*(handle(submit_run, r) for r in runs_))
        scheduled = await published(RunScheduled)
        assert len(scheduled) == 1
        other = next(r for r in runs_ if r.run_id != scheduled[0].run_id)
        assert [w.run_id for w in await published(RunWaiting)] == [other.run_id]
