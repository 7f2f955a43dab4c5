"""The booking path on real Postgres: covering, conflicts, the constraint as a guarantee, and concurrency."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from praxis_scheduler.adapters import booking as booking_repo
from praxis_scheduler.adapters import reservations as repo
from praxis_scheduler.handlers.benches import project_bench_announced
from praxis_testkit.waiting import wait_for

OVERLAPS = """
    SELECT count(*) FROM scheduler.reservations r1 JOIN scheduler.reservations r2
      ON r1.asset_id = r2.asset_id AND r1.id < r2.id AND r1.during && r2.during
    WHERE r1.released_at IS NULL AND r2.released_at IS NULL
"""


def booking(asset_ids, start: datetime, hours: float, owner: str = "alice") -> booking_repo.Booking:
    return booking_repo.Booking(tuple(asset_ids), start, start + timedelta(hours=hours), "user", owner, "test")


async def book(
    engine: AsyncEngine, b: booking_repo.Booking, now: datetime, stats: booking_repo.RetryStats | None = None
):
    async with AsyncSession(engine) as session, session.begin():
        return await booking_repo.book(session, b, now=now, stats=stats)


async def count_overlaps(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(OVERLAPS))).scalar_one())


def libpq(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def bench(handle, kit):
    """b1: liquid handler 'star' with plates p1, p2 on its deck, and four plain readers r0..r3."""
    readers = [kit.reader(f"r{i}") for i in range(4)]
    await handle(
        project_bench_announced,
        kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p1"), kit.plate("p2"))), *readers),
    )


class TestBook:
    async def test_booking_a_machine_books_its_deck_with_it(self, engine, bench, clock):
        rows = await book(engine, booking(["b1/star"], clock.now, 1), clock.now)
        assert [r.asset_id for r in rows] == ["b1/star", "b1/star/p1", "b1/star/p2"]
        assert {r.principal_id for r in rows} == {rows[0].id}

    async def test_booking_a_bench_books_everything_on_it(self, engine, bench, clock):
        rows = await book(engine, booking(["b1"], clock.now, 1), clock.now)
        assert len(rows) == 1 + 1 + 2 + 4

    async def test_an_overlapping_booking_is_a_conflict_naming_the_holder(self, engine, bench, clock):
        await book(engine, booking(["b1/star/p1"], clock.now, 2, owner="alice"), clock.now)
        with pytest.raises(booking_repo.BookingConflict) as err:
            await book(engine, booking(["b1/star"], clock.now + timedelta(hours=1), 2, owner="bob"), clock.now)
        assert [(c.asset_id, c.owner) for c in err.value.conflicting] == [("b1/star/p1", "alice")]

    async def test_back_to_back_windows_do_not_conflict(self, engine, bench, clock):
        await book(engine, booking(["b1/r0"], clock.now, 1), clock.now)
        await book(engine, booking(["b1/r0"], clock.now + timedelta(hours=1), 1), clock.now)
        assert await count_overlaps(engine) == 0

    async def test_an_unknown_asset_is_refused(self, engine, bench, clock):
        with pytest.raises(booking_repo.UnknownAssets):
            await book(engine, booking(["b1/nope"], clock.now, 1), clock.now)

    async def test_a_conflict_leaves_nothing_booked(self, engine, bench, clock):
        await book(engine, booking(["b1/r1"], clock.now, 1), clock.now)
        with pytest.raises(booking_repo.BookingConflict):
            await book(engine, booking(["b1/r0", "b1/r1"], clock.now, 1, owner="bob"), clock.now)
        async with AsyncSession(engine) as session:
            assert [r.asset_id for r in await repo.active_for_owner(session, "user", "bob")] == []

    async def test_the_constraint_refuses_an_overlap_written_around_the_booking_path(self, engine, bench, clock):
        await book(engine, booking(["b1/r0"], clock.now, 2), clock.now)
        conn = await asyncpg.connect(libpq(engine))
        try:
            with pytest.raises(asyncpg.ExclusionViolationError):
                await conn.execute(
                    "INSERT INTO scheduler.reservations (id, asset_id, principal_id, during, owner_kind, owner) "
                    "VALUES ('x', 'b1/r0', 'x', tstzrange($1, $2), 'user', 'mallory')",
                    clock.now + timedelta(hours=1),
                    clock.now + timedelta(hours=3),
                )
        finally:
            await conn.close()


class TestBookAnyOf:
    """``any_of``: one asset out of several, the first free one no other booker holds (SKIP LOCKED)."""

    def any_of(self, start: datetime, *assets: str) -> booking_repo.Booking:
        return booking_repo.Booking(assets, start, start + timedelta(hours=1), "run", "run-1", any_of=True)

    async def test_the_first_free_candidate_is_booked(self, engine, bench, clock):
        await book(engine, booking(["b1/r0"], clock.now, 2), clock.now)
        rows = await book(engine, self.any_of(clock.now, "b1/r2", "b1/r0", "b1/r1"), clock.now)
        assert [r.asset_id for r in rows] == ["b1/r1"]

    async def test_a_candidate_another_booker_is_locking_is_skipped_not_waited_for(self, engine, bench, clock):
        other = await asyncpg.connect(libpq(engine))
        try:
            async with other.transaction():
                await other.execute("SELECT 1 FROM scheduler.assets WHERE asset_id = 'b1/r0' FOR NO KEY UPDATE")
                rows = await book(engine, self.any_of(clock.now, "b1/r0", "b1/r1"), clock.now)
        finally:
            await other.close()
        assert [r.asset_id for r in rows] == ["b1/r1"]

    async def test_a_machine_candidate_is_booked_with_its_deck(self, engine, bench, clock):
        rows = await book(engine, self.any_of(clock.now, "b1/star"), clock.now)
        assert [r.asset_id for r in rows] == ["b1/star", "b1/star/p1", "b1/star/p2"]

    async def test_all_candidates_busy_is_a_conflict_naming_them(self, engine, bench, clock):
        await book(engine, booking(["b1/r0", "b1/r1"], clock.now, 2), clock.now)
        with pytest.raises(booking_repo.BookingConflict) as err:
            await book(engine, self.any_of(clock.now, "b1/r0", "b1/r1"), clock.now)
        assert sorted(c.asset_id for c in err.value.conflicting) == ["b1/r0", "b1/r1"]

    async def test_free_candidates_all_locked_by_others_are_retried_then_given_up(self, engine, bench, clock):
        stats = booking_repo.RetryStats()
        other = await asyncpg.connect(libpq(engine))
        try:
            async with other.transaction():
                await other.execute("SELECT 1 FROM scheduler.assets WHERE asset_id = 'b1/r3' FOR NO KEY UPDATE")
                with pytest.raises(booking_repo.BookingGaveUp):
                    await book(engine, self.any_of(clock.now, "b1/r3"), clock.now, stats)
        finally:
            await other.close()
        assert stats.all_locked == booking_repo.MAX_ATTEMPTS


class TestConcurrentBookers:
    async def test_many_random_bookers_never_double_book(self, engine, bench, clock):
        """8 bookers x 40 random windows (1-3 h in a 60 h horizon) over 4 readers, the liquid handler and its
        deck (a booking of the machine covers its plates), single and two-asset requests; afterwards the
        self-join finds no overlap."""
        stats = booking_repo.RetryStats()
        assets = ["b1/r0", "b1/r1", "b1/r2", "b1/r3", "b1/star", "b1/star/p1", "b1/star/p2"]

        async def booker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(40):
                start = clock.now + timedelta(minutes=rng.randrange(0, 60 * 60, 15))
                wanted = rng.sample(assets, rng.choice((1, 1, 2)))
                try:
                    await book(engine, booking(wanted, start, rng.uniform(1, 3), owner=f"u{seed}"), clock.now, stats)
                except booking_repo.BookingConflict:
                    pass

        await asyncio.gather(*(booker(seed) for seed in range(8)))
        assert stats.booked > 20 and stats.conflicts > 20  # the workload really contended
        assert await count_overlaps(engine) == 0

    async def test_many_any_of_bookers_never_double_book(self, engine, bench, clock):
        """The same with every request taking any free reader (the SKIP LOCKED path)."""
        stats = booking_repo.RetryStats()
        readers = ("b1/r0", "b1/r1", "b1/r2", "b1/r3")

        async def booker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(40):
                start = clock.now + timedelta(minutes=rng.randrange(0, 30 * 60, 15))
                wanted = booking_repo.Booking(
                    readers, start, start + timedelta(hours=rng.uniform(1, 3)), "user", "u", any_of=True
                )
                try:
                    await book(engine, wanted, clock.now, stats)
                except (booking_repo.BookingConflict, booking_repo.BookingGaveUp):
                    pass

        await asyncio.gather(*(booker(seed) for seed in range(8)))
        assert stats.booked > 20 and stats.conflicts > 20
        assert await count_overlaps(engine) == 0

    async def test_an_exclusion_violation_is_retried_and_then_seen_as_a_conflict(self, engine, bench, clock):
        """A writer that skips the lock inserts an overlap and holds it uncommitted; our insert waits on the
        exclusion index, fails with 23P01 when the writer commits, and the retry finds the conflict."""
        stats = booking_repo.RetryStats()
        rogue = await asyncpg.connect(libpq(engine))
        try:
            tx = rogue.transaction()
            await tx.start()
            await rogue.execute(
                "INSERT INTO scheduler.reservations (id, asset_id, principal_id, during, owner_kind, owner) "
                "VALUES ('rogue', 'b1/r2', 'rogue', tstzrange($1, $2), 'user', 'rogue')",
                clock.now,
                clock.now + timedelta(hours=2),
            )
            ours = asyncio.create_task(book(engine, booking(["b1/r2"], clock.now, 1), clock.now, stats))
            await wait_for(lambda: waiting_on_lock(engine, "INSERT INTO scheduler.reservations"))
            await tx.commit()
            with pytest.raises(booking_repo.BookingConflict) as err:
                await ours
        finally:
            await rogue.close()
        assert stats.exclusion >= 1
        assert err.value.conflicting[0].owner == "rogue"

    async def test_a_deadlock_is_retried_and_the_booking_succeeds(self, engine, bench, clock):
        """Another transaction holds r1 and then wants r0 while our two-asset booking holds r0 and waits for
        r1: Postgres aborts our attempt (40P01), the savepoint is rolled back and the retry books both."""
        stats = booking_repo.RetryStats()
        other = await asyncpg.connect(libpq(engine))
        try:
            await other.execute("SET deadlock_timeout = '30s'")  # so that our side is the one that detects it
            tx = other.transaction()
            await tx.start()
            await other.execute("SELECT 1 FROM scheduler.assets WHERE asset_id = 'b1/r1' FOR UPDATE")
            ours = asyncio.create_task(book(engine, booking(["b1/r0", "b1/r1"], clock.now, 1), clock.now, stats))
            await wait_for(lambda: waiting_on_lock(engine, "FROM scheduler.assets"))
            await other.execute("SELECT 1 FROM scheduler.assets WHERE asset_id = 'b1/r0' FOR UPDATE")
            await tx.rollback()
            rows = await ours
        finally:
            await other.close()
        assert stats.deadlock >= 1
        assert [r.asset_id for r in rows] == ["b1/r0", "b1/r1"]


async def waiting_on_lock(engine: AsyncEngine, query_fragment: str) -> bool:
    """True once a backend of this database is blocked on a lock while running ``query_fragment``. Asked on a
    fresh connection: pg_stat_activity is a snapshot per transaction."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND position(:q in query) > 0"
            ),
            {"q": query_fragment},
        )
        return bool(found.scalar_one())
