"""GetQueue: positions in placement order (priority, aging), ETAs and why each run waits."""

from __future__ import annotations

from datetime import timedelta

from praxis_contracts.executor import RunFinished
from praxis_contracts.hardware import BenchHeartbeat
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import GetQueue, QueueReply, RunScheduled
from praxis_scheduler.handlers.benches import project_bench_announced, project_bench_heartbeat
from praxis_scheduler.handlers.queue import get_queue
from praxis_scheduler.handlers.runs import release_finished_run, submit_run


async def one_busy_machine(handle, kit) -> str:
    """Bench b1 with one liquid handler, taken by a 30-minute run; returns that run's id."""
    await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
    await handle(project_bench_heartbeat, BenchHeartbeat(bench_id="b1", sequence=1, interval_s=3600))
    holder = kit.submit(kit.lh_req(), estimated_duration_s=1800)
    await handle(submit_run, holder)
    return holder.run_id


class TestQueueView:
    async def test_running_runs_first_then_waiting_runs_by_priority_with_etas(self, handle, kit, clock):
        holder = await one_busy_machine(handle, kit)
        low = kit.submit(kit.lh_req(), priority=0, estimated_duration_s=600)
        high = kit.submit(kit.lh_req(), priority=5, estimated_duration_s=600)
        await handle(submit_run, low)
        await handle(submit_run, high)
        reply: QueueReply = await handle(get_queue, GetQueue())
        assert [(e.run_id, e.position, e.status) for e in reply.entries] == [
            (holder, 0, "scheduled"),
            (high.run_id, 1, "queued"),
            (low.run_id, 2, "queued"),
        ]
        assert reply.entries[1].eta == clock.now + timedelta(minutes=30)
        assert reply.entries[2].eta == clock.now + timedelta(minutes=40)
        assert f"reserved by run {holder[:8]}" in (reply.entries[2].why_waiting or "")

    async def test_an_unplaceable_queue_entry_has_no_eta_when_no_bench_is_online(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        clock.advance(minutes=5)
        await handle(submit_run, kit.submit(kit.lh_req()))
        reply: QueueReply = await handle(get_queue, GetQueue())
        assert reply.entries[0].eta is None and "offline" in (reply.entries[0].why_waiting or "")


class TestAgingOrder:
    async def test_a_long_waiting_low_priority_run_is_placed_before_a_fresh_high_priority_one(
        self, handle, published, kit, clock
    ):
        holder = await one_busy_machine(handle, kit)
        low = kit.submit(kit.lh_req(), priority=0)
        await handle(submit_run, low)
        clock.advance(minutes=55)
        high = kit.submit(kit.lh_req(), priority=10)
        await handle(submit_run, high)
        await handle(release_finished_run, RunFinished(run_id=holder, seq=3, status=RunStatus.COMPLETED))
        assert [s.run_id for s in await published(RunScheduled)] == [holder, low.run_id]

    async def test_without_enough_waiting_priority_wins(self, handle, published, kit, clock):
        holder = await one_busy_machine(handle, kit)
        low = kit.submit(kit.lh_req(), priority=0)
        await handle(submit_run, low)
        clock.advance(minutes=20)
        high = kit.submit(kit.lh_req(), priority=10)
        await handle(submit_run, high)
        await handle(release_finished_run, RunFinished(run_id=holder, seq=3, status=RunStatus.COMPLETED))
        assert [s.run_id for s in await published(RunScheduled)] == [holder, high.run_id]
