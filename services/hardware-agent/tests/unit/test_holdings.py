"""Holdings: which run holds which machine, from the scheduler's events and snapshots; releases are final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from praxis_contracts.executor import RunFinished, StepCompleted
from praxis_contracts.runs import AssetAssignment, Assignment, RunStatus
from praxis_contracts.scheduler import LeaseExpired, ReservationInfo, ReservationReleased, RunScheduled
from praxis_hardware_agent.domain.holdings import Holdings

BENCH = "b1"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def machine(name: str, bench: str = BENCH) -> AssetAssignment:
    return AssetAssignment(requirement=name, kind="machine", bench_id=bench, machine=name, asset_id=f"{bench}/{name}")


def resource(on: str, name: str, bench: str = BENCH) -> AssetAssignment:
    return AssetAssignment(
        requirement=name, kind="resource", bench_id=bench, machine=on, resource=name, asset_id=f"{bench}/{on}/{name}"
    )


def scheduled(run_id: str, *assets: AssetAssignment) -> RunScheduled:
    return RunScheduled(
        run_id=run_id, protocol_id="p", source_hash="h", function="f", assignment=Assignment(assets=list(assets))
    )


def released(run_id: str | None, asset_id: str, reason: str = "run completed") -> ReservationReleased:
    return ReservationReleased(reservation_id="r", asset_id=asset_id, run_id=run_id, reason=reason, occurred_at=T0)


def reservation(owner: str, asset_id: str, owner_kind: str = "run") -> ReservationInfo:
    return ReservationInfo(
        id=f"{owner}:{asset_id}",
        asset_id=asset_id,
        owner_kind=owner_kind,
        owner=owner,
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_at=T0,
    )


def finished(run_id: str) -> RunFinished:
    return RunFinished(run_id=run_id, seq=9, status=RunStatus.COMPLETED, occurred_at=T0)


@pytest.fixture
def holdings() -> Holdings:
    return Holdings(BENCH)


class TestEvents:
    def test_a_scheduled_run_holds_its_machines_and_the_machines_of_its_resources(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh"), resource("reader", "plate"), machine("other", bench="b2")))

        assert holdings.holds("r1", "lh") and holdings.holds("r1", "reader")
        assert not holdings.holds("r1", "other")
        assert holdings.verdict("r1", ["lh", "reader"]).held
        assert holdings.verdict("r1", []).held  # an empty deck: the run holds something here

    def test_another_machine_is_refused_naming_what_the_run_holds(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh")))

        verdict = holdings.verdict("r1", ["lh", "reader"])

        assert not verdict.held and not verdict.unknown
        assert verdict.reason == "run r1 holds no reservation of b1/reader (it holds b1/lh)"

    def test_a_run_never_heard_of_is_unknown_until_the_scheduler_says_it_has_nothing(self, holdings: Holdings) -> None:
        first = holdings.verdict("made-up", ["lh"])
        holdings.mark_absent("made-up", T0)
        after = holdings.verdict("made-up", ["lh"])

        assert first.unknown and not first.held
        assert not after.unknown and not after.held
        assert "run made-up holds no reservation of b1/lh" in after.reason
        assert "the scheduler lists none" in after.reason and "2030-01-01T12:00:00" in after.reason

    def test_a_released_reservation_is_refused_with_when_and_why(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh"), machine("reader")))
        holdings.apply(released("r1", "b1/reader", reason="force-released by admin: jammed"))

        verdict = holdings.verdict("r1", ["reader"])

        assert holdings.holds("r1", "lh") and not verdict.held
        assert verdict.reason == (
            "run r1 holds no reservation of b1/reader: it was released at 2030-01-01T12:00:00+00:00 "
            "(force-released by admin: jammed)"
        )

    def test_the_machine_stays_held_while_a_resource_on_it_is(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh"), resource("lh", "plate")))
        holdings.apply(released("r1", "b1/lh"))
        still = holdings.holds("r1", "lh")
        holdings.apply(released("r1", "b1/lh/plate"))

        assert still and not holdings.holds("r1", "lh")

    @pytest.mark.parametrize(
        ("ending", "why"),
        [
            (finished("r1"), "run completed"),
            (LeaseExpired(run_id="r1", asset_ids=["b1/lh"], expired_at=T0), "its lease expired"),
        ],
    )
    def test_a_finished_or_expired_run_holds_nothing(self, holdings: Holdings, ending: object, why: str) -> None:
        holdings.apply(scheduled("r1", machine("lh"), machine("reader")))
        holdings.apply(ending)  # type: ignore[arg-type]

        verdict = holdings.verdict("r1", ["lh"])

        assert not verdict.held and not holdings.holds("r1", "reader")
        assert verdict.reason.endswith(f"its reservations were released at 2030-01-01T12:00:00+00:00 ({why})")

    def test_releases_are_final_even_when_the_schedule_arrives_late(self, holdings: Holdings) -> None:
        holdings.apply(finished("r1"))
        holdings.apply(scheduled("r1", machine("lh")))
        holdings.apply(released("r2", "b1/lh"))
        holdings.apply(scheduled("r2", machine("lh"), machine("reader")))

        assert not holdings.holds("r1", "lh")
        assert not holdings.holds("r2", "lh") and holdings.holds("r2", "reader")

    def test_other_benches_and_user_bookings_change_nothing(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh")))
        holdings.apply(released("r1", "b2/lh"))
        holdings.apply(released(None, "b1/lh", reason="booking released"))

        assert holdings.holds("r1", "lh")

    def test_a_reservation_of_the_bench_holds_every_machine(self, holdings: Holdings) -> None:
        holdings.apply_snapshot([reservation("r1", "b1")], holdings.begin_sync(), T0)

        assert holdings.holds("r1", "lh") and holdings.holds("r1", "anything")

    def test_an_event_holdings_do_not_change_is_a_wiring_error(self, holdings: Holdings) -> None:
        step = StepCompleted(run_id="r1", seq=1, step=1, bench_id=BENCH, machine="lh", method="m", duration_ms=1)
        with pytest.raises(TypeError, match="StepCompleted"):
            holdings.apply(step)


class TestSnapshots:
    def test_a_snapshot_holds_the_runs_it_lists_for_this_bench_only(self, holdings: Holdings) -> None:
        listed = [
            reservation("r1", "b1/lh"),
            reservation("r1", "b1/lh/plate"),
            reservation("r2", "b1/reader/plate"),
            reservation("r3", "b2/lh"),
            reservation("alice", "b1/reader", owner_kind="user"),
        ]
        holdings.apply_snapshot(listed, holdings.begin_sync(), T0)

        assert holdings.held_by("r1") == ["b1/lh", "b1/lh/plate"]
        assert holdings.holds("r2", "reader")
        assert holdings.verdict("r3", ["lh"]).unknown
        assert holdings.verdict("alice", ["reader"]).unknown
        assert holdings.synced_at == T0

    def test_a_holding_the_snapshot_no_longer_lists_was_released_while_nobody_told_us(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh")))
        holdings.apply_snapshot([], holdings.begin_sync(), T0)

        verdict = holdings.verdict("r1", ["lh"])

        assert not verdict.held
        assert "no longer among the scheduler's reservations" in verdict.reason

    def test_an_event_that_arrives_while_the_snapshot_is_asked_for_survives_it(self, holdings: Holdings) -> None:
        mark = holdings.begin_sync()
        holdings.apply(scheduled("r2", machine("lh")))  # placed after the scheduler answered, before we read it

        holdings.apply_snapshot([], mark, T0)

        assert holdings.holds("r2", "lh")

    def test_a_snapshot_taken_before_a_release_does_not_bring_it_back(self, holdings: Holdings) -> None:
        holdings.apply(scheduled("r1", machine("lh")))
        mark = holdings.begin_sync()
        holdings.apply(finished("r1"))  # the snapshot below was taken before this

        holdings.apply_snapshot([reservation("r1", "b1/lh")], mark, T0)

        assert not holdings.holds("r1", "lh")

    def test_a_later_snapshot_drops_what_an_earlier_one_listed(self, holdings: Holdings) -> None:
        holdings.apply_snapshot([reservation("r1", "b1/lh")], holdings.begin_sync(), T0)
        holdings.apply_snapshot([], holdings.begin_sync(), T0)

        assert not holdings.holds("r1", "lh")

    def test_a_run_found_by_a_later_snapshot_is_no_longer_absent(self, holdings: Holdings) -> None:
        holdings.mark_absent("r1", T0)
        holdings.apply_snapshot([reservation("r1", "b1/lh")], holdings.begin_sync(), T0)

        assert holdings.holds("r1", "lh")


def test_tombstones_are_bounded() -> None:
    holdings = Holdings(BENCH, capacity=2)
    for n in range(5):
        holdings.apply(finished(f"r{n}"))

    assert "released at" in holdings.verdict("r4", ["lh"]).reason
    assert holdings.verdict("r0", ["lh"]).unknown  # forgotten: the scheduler is asked again
