"""Run leases: renewal by the executor, expiry by the sweep, and bookings that cap a renewal."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.executor import RunLeaseRenewed
from praxis_contracts.hardware import BenchHeartbeat
from praxis_contracts.scheduler import BookReservation, LeaseExpired, ReservationReleased, RunScheduled
from praxis_scheduler.adapters import reservations as reservations_repo
from praxis_scheduler.db.tables import runs
from praxis_scheduler.handlers.benches import project_bench_announced, project_bench_heartbeat
from praxis_scheduler.handlers.reservations import book_reservation, expire_leases
from praxis_scheduler.handlers.runs import renew_run_lease, submit_run


async def lease_ends(engine, run_id: str) -> set:
    async with AsyncSession(engine) as session:
        return {r.ends_at for r in await reservations_repo.active_for_owner(session, "run", run_id)}


class TestLeaseRenewal:
    async def test_renewal_extends_every_reservation_of_the_run(self, handle, engine, kit, clock):
        await handle(
            project_bench_announced, kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p"),)))
        )
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        clock.advance(minutes=9)
        await handle(renew_run_lease, RunLeaseRenewed(run_id=run.run_id, extend_s=300))
        assert await lease_ends(engine, run.run_id) == {clock.now + timedelta(minutes=5)}

    async def test_renewal_never_shortens_a_lease(self, handle, engine, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        await handle(renew_run_lease, RunLeaseRenewed(run_id=run.run_id, extend_s=60))
        assert await lease_ends(engine, run.run_id) == {clock.now + timedelta(minutes=10)}

    async def test_renewal_stops_where_a_calendar_booking_starts(self, handle, engine, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req(), estimated_duration_s=300)
        await handle(submit_run, run)
        booked_from = clock.now + timedelta(minutes=20)
        await handle(
            book_reservation,
            BookReservation(
                asset_id="b1/star", owner="alice", starts_at=booked_from, ends_at=booked_from + timedelta(hours=1)
            ),
        )
        clock.advance(minutes=8)
        await handle(renew_run_lease, RunLeaseRenewed(run_id=run.run_id, extend_s=3600))
        assert await lease_ends(engine, run.run_id) == {booked_from}


class TestLeaseExpiry:
    async def test_an_expired_lease_releases_its_assets_and_says_so(self, handle, uows, published, engine, kit, clock):
        await handle(
            project_bench_announced, kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p"),)))
        )
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        clock.advance(minutes=10)
        await expire_leases(uows, clock)
        [expired] = await published(LeaseExpired)
        assert (expired.run_id, expired.asset_ids, expired.expired_at) == (
            run.run_id,
            ["b1/star", "b1/star/p"],
            clock.now,
        )
        assert {r.asset_id for r in await published(ReservationReleased)} == {"b1/star", "b1/star/p"}
        assert await lease_ends(engine, run.run_id) == set()
        async with engine.connect() as conn:
            assert (
                await conn.execute(sa.select(runs.c.status).where(runs.c.run_id == run.run_id))
            ).scalar() == "lease_expired"

    async def test_a_live_lease_is_left_alone(self, handle, uows, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        await handle(submit_run, kit.submit(kit.lh_req()))
        clock.advance(minutes=9, seconds=59)
        await expire_leases(uows, clock)
        assert await published(LeaseExpired) == []

    async def test_expiry_hands_the_assets_to_the_waiting_run(self, handle, uows, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        # A slow heartbeat keeps the bench online across the 11 minutes below.
        await handle(project_bench_heartbeat, BenchHeartbeat(bench_id="b1", sequence=1, interval_s=600))
        first, second = kit.submit(kit.lh_req()), kit.submit(kit.lh_req())
        await handle(submit_run, first)
        await handle(submit_run, second)
        clock.advance(minutes=11)
        await expire_leases(uows, clock)
        assert [s.run_id for s in await published(RunScheduled)] == [first.run_id, second.run_id]

    async def test_an_expired_lease_is_not_revived_by_a_late_renewal(self, handle, uows, engine, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        clock.advance(minutes=10)
        await handle(renew_run_lease, RunLeaseRenewed(run_id=run.run_id, extend_s=600))
        await expire_leases(uows, clock)
        assert await lease_ends(engine, run.run_id) == set()
