"""Calendar bookings by users, the admin list, and force-release with an audit trail."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from praxis_contracts.base import ErrorReply
from praxis_contracts.executor import RunFinished
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import (
    BookReservation,
    ForceReleaseReservation,
    ListReservations,
    ReservationInfo,
    ReservationReleased,
    RunScheduled,
    RunWaiting,
)
from praxis_scheduler.db.tables import force_releases
from praxis_scheduler.handlers.benches import project_bench_announced
from praxis_scheduler.handlers.reservations import book_reservation, force_release_reservation, list_reservations
from praxis_scheduler.handlers.runs import release_finished_run, submit_run


def booking(asset_id: str, start, hours: float = 1, owner: str = "alice") -> BookReservation:
    return BookReservation(
        asset_id=asset_id, owner=owner, purpose="calibration", starts_at=start, ends_at=start + timedelta(hours=hours)
    )


class TestBookReservation:
    async def test_a_free_window_is_booked(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        reply = await handle(book_reservation, booking("b1/star", clock.now + timedelta(hours=1)))
        assert isinstance(reply, ReservationInfo)
        assert (reply.asset_id, reply.owner_kind, reply.owner) == ("b1/star", "user", "alice")

    async def test_a_clash_is_a_conflict_naming_the_conflicting_reservation(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        first = await handle(book_reservation, booking("b1/star", clock.now + timedelta(hours=1), hours=2))
        reply = await handle(book_reservation, booking("b1/star", clock.now + timedelta(hours=2), owner="bob"))
        assert isinstance(reply, ErrorReply) and reply.code == "conflict"
        assert reply.data["conflicting"]["id"] == first.id
        assert "booked by alice (calibration)" in reply.detail

    async def test_a_clash_with_a_running_run_names_the_run(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        reply = await handle(book_reservation, booking("b1", clock.now))
        assert isinstance(reply, ErrorReply) and reply.code == "conflict"
        assert reply.data["conflicting"]["owner"] == run.run_id
        assert f"reserved by run {run.run_id[:8]}" in reply.detail

    async def test_unknown_assets_and_bad_windows_are_refused(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        unknown = await handle(book_reservation, booking("b9/x", clock.now))
        backwards = await handle(
            book_reservation,
            BookReservation(asset_id="b1/star", owner="a", starts_at=clock.now, ends_at=clock.now - timedelta(hours=1)),
        )
        assert (unknown.code, backwards.code) == ("not_found", "invalid")

    async def test_a_run_is_never_placed_inside_a_booking(self, handle, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        await handle(book_reservation, booking("b1", clock.now + timedelta(minutes=30)))
        await handle(submit_run, kit.submit(kit.lh_req(), estimated_duration_s=3600))
        assert await published(RunScheduled) == []
        [waiting] = await published(RunWaiting)
        assert "booked by alice (calibration)" in waiting.reason

    async def test_a_short_run_fits_before_a_booking(self, handle, published, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        await handle(book_reservation, booking("b1/star", clock.now + timedelta(minutes=30)))
        await handle(submit_run, kit.submit(kit.lh_req(), estimated_duration_s=600))
        assert len(await published(RunScheduled)) == 1


class TestListReservations:
    async def test_lists_current_reservations_and_on_request_released_ones(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star"), kit.reader("r")))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        await handle(book_reservation, booking("b1/r", clock.now + timedelta(hours=1)))
        await handle(release_finished_run, RunFinished(run_id=run.run_id, seq=2, status=RunStatus.COMPLETED))
        current = await handle(list_reservations, ListReservations())
        everything = await handle(list_reservations, ListReservations(include_released=True))
        assert [r.asset_id for r in current.reservations] == ["b1/r"]
        assert sorted(r.asset_id for r in everything.reservations) == ["b1/r", "b1/star"]


class TestForceRelease:
    async def test_force_release_frees_the_asset_keeps_the_reason_and_places_waiting_runs(
        self, handle, published, engine, kit, clock
    ):
        await handle(
            project_bench_announced, kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p"),)))
        )
        booked = await handle(book_reservation, booking("b1/star", clock.now, hours=4))
        run = kit.submit(kit.lh_req())
        await handle(submit_run, run)
        reply = await handle(
            force_release_reservation,
            ForceReleaseReservation(reservation_id=booked.id, reason="alice went home", by="admin-bob"),
        )
        assert (
            isinstance(reply, ReservationInfo)
            and reply.release_reason == "force-released by admin-bob: alice went home"
        )
        assert {r.asset_id for r in await published(ReservationReleased)} == {"b1/star", "b1/star/p"}
        assert [s.run_id for s in await published(RunScheduled)] == [run.run_id]
        async with engine.connect() as conn:
            audit = (
                await conn.execute(
                    sa.select(force_releases.c.asset_id, force_releases.c.reason, force_releases.c.released_by)
                )
            ).all()
        assert sorted(audit) == [
            ("b1/star", "alice went home", "admin-bob"),
            ("b1/star/p", "alice went home", "admin-bob"),
        ]

    async def test_unknown_or_already_released_reservations_are_refused(self, handle, kit, clock):
        await handle(project_bench_announced, kit.announce("b1", kit.liquid_handler("star")))
        booked = await handle(book_reservation, booking("b1/star", clock.now))
        release = ForceReleaseReservation(reservation_id=booked.id, reason="x")
        await handle(force_release_reservation, release)
        again = await handle(force_release_reservation, release)
        missing = await handle(force_release_reservation, ForceReleaseReservation(reservation_id="nope", reason="x"))
        assert (again.code, missing.code) == ("conflict", "not_found")
