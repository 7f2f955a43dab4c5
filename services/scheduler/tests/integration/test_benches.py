"""The bench projection: announcements, heartbeats, offline benches, machine status, ListBenches."""

from __future__ import annotations

from datetime import timedelta

from praxis_contracts.hardware import BenchHeartbeat, BenchList, BenchOffline, ListBenches, MachineStatusChanged
from praxis_contracts.scheduler import RunScheduled, RunWaiting
from praxis_scheduler.handlers.benches import (
    list_benches,
    project_bench_announced,
    project_bench_heartbeat,
    project_bench_offline,
    project_machine_status,
)
from praxis_scheduler.handlers.runs import submit_run


def beat(bench_id: str, seq: int = 1, interval_s: float = 5.0, **status: str) -> BenchHeartbeat:
    return BenchHeartbeat(bench_id=bench_id, sequence=seq, interval_s=interval_s, machine_status=status)


class TestBenchProjection:
    async def test_a_bench_is_online_while_its_heartbeats_are_fresh(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        fresh: BenchList = await handle(list_benches, ListBenches())
        clock.advance(seconds=16)
        stale: BenchList = await handle(list_benches, ListBenches())
        await handle(project_bench_heartbeat, beat("b1"))
        back: BenchList = await handle(list_benches, ListBenches())
        assert [b.online for b in (fresh.benches[0], stale.benches[0], back.benches[0])] == [True, False, True]
        assert [m.name for m in fresh.benches[0].machines] == ["star"]

    async def test_a_bench_that_says_it_goes_offline_is_offline_at_once(self, handle, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        await handle(project_bench_offline, BenchOffline(bench_id="b1"))
        listed: BenchList = await handle(list_benches, ListBenches())
        assert listed.benches[0].online is False

    async def test_machine_status_from_heartbeats_and_events_is_listed(self, handle, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star"), kit.reader("r")))
        await handle(project_bench_heartbeat, beat("b1", star="busy"))
        await handle(project_machine_status, MachineStatusChanged(bench_id="b1", machine="r", status="error"))
        listed: BenchList = await handle(list_benches, ListBenches())
        assert {m.name: m.status for m in listed.benches[0].machines} == {"star": "busy", "r": "error"}

    async def test_a_reannounced_bench_drops_machines_it_no_longer_has(self, handle, published, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star"), kit.reader("r")))
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        await handle(submit_run, kit.submit(kit.reader_req()))
        assert await published(RunScheduled) == []


class TestBenchEventsPlaceWaitingRuns:
    async def test_a_bench_coming_back_online_places_the_waiting_run(self, handle, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        clock.advance(minutes=1)
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        [waiting] = await published(RunWaiting)
        assert "b1, which is offline" in waiting.reason
        await handle(project_bench_heartbeat, beat("b1"))
        assert [s.run_id for s in await published(RunScheduled)] == [run.run_id]

    async def test_a_machine_recovering_from_an_error_places_the_waiting_run(self, handle, published, kit):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star", status="error")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        assert await published(RunScheduled) == []
        await handle(project_machine_status, MachineStatusChanged(bench_id="b1", machine="star", status="idle"))
        assert [s.run_id for s in await published(RunScheduled)] == [run.run_id]

    async def test_a_new_bench_places_a_run_waiting_for_it(self, handle, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        first, second = kit.submit(kit.lh_req()), kit.submit(kit.lh_req())
        await handle(submit_run, first)
        await handle(submit_run, second)
        await handle(project_bench_announced, kit.announce("b2", kit.liquid_handler("star")))
        scheduled = await published(RunScheduled)
        assert [(s.run_id, s.assignment.assets[0].asset_id) for s in scheduled] == [
            (first.run_id, "b1/star"),
            (second.run_id, "b2/star"),
        ]
        assert clock.now - timedelta(seconds=1) < scheduled[1].assignment.lease_expires_at - timedelta(minutes=10)
