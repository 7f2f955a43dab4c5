"""Asset resolution: pure rules over an inventory snapshot (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from praxis_contracts.hardware import BenchAnnounced
from praxis_scheduler.domain.inventory import Bench, Inventory, announced_assets
from praxis_scheduler.domain.matching import RunRequest
from praxis_scheduler.domain.reservations import Reservation, index_by_asset
from praxis_scheduler.domain.resolution import Availability, Impossible, Placed, Waiting, resolve

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def inventory(*events: BenchAnnounced, offline: tuple[str, ...] = ()) -> Inventory:
    benches = [
        Bench(e.bench_id, e.simulated, NOW - timedelta(hours=1) if e.bench_id in offline else NOW, 5.0) for e in events
    ]
    return Inventory.build(benches, [a for e in events for a in announced_assets(e)], NOW, 3.0)


def free(*reservations: Reservation, held: dict[str, str] | None = None) -> Availability:
    return Availability(NOW, NOW + timedelta(minutes=30), index_by_asset(reservations), held or {})


def run(*reqs, pins=None, simulate=True, allow_real=False, run_id="run-new") -> RunRequest:
    return RunRequest(run_id, tuple(reqs), dict(pins or {}), simulate, allow_real)


def held_by(asset_id: str, owner: str, kind: str = "run", hours: float = 2) -> Reservation:
    return Reservation(
        "r-" + asset_id,
        asset_id,
        kind,
        owner,
        NOW - timedelta(minutes=5),
        NOW + timedelta(hours=hours),
        purpose="calibration",
    )


class TestResolveTypes:
    def test_a_plate_requirement_matches_a_tecan_plate_through_its_type_chain(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p1", tecan=True),))))
        result = resolve(run(kit.plate_req()), inv, free())
        assert isinstance(result, Placed)
        assert result.asset_ids == ["b1/star/p1"]

    def test_no_such_type_anywhere_is_impossible_and_named(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star")))
        result = resolve(run(kit.reader_req()), inv, free())
        assert isinstance(result, Impossible)
        assert "no plate reader with absorbance" in result.reason

    def test_two_plate_parameters_get_two_distinct_plates(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p1"), kit.plate("p2")))))
        result = resolve(run(kit.plate_req("source"), kit.plate_req("dest")), inv, free())
        assert isinstance(result, Placed)
        assert sorted(result.asset_ids) == ["b1/star/p1", "b1/star/p2"]

    def test_two_plate_parameters_and_one_plate_is_impossible(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p1"),))))
        result = resolve(run(kit.plate_req("source"), kit.plate_req("dest")), inv, free())
        assert isinstance(result, Impossible)
        assert "of its own" in result.reason


class TestResolvePins:
    def test_a_pinned_asset_is_used(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b")))
        result = resolve(run(kit.lh_req(), pins={"lh": "b1/b"}), inv, free())
        assert isinstance(result, Placed) and result.asset_ids == ["b1/b"]

    def test_a_pin_to_an_unknown_asset_is_refused_not_substituted(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")))
        result = resolve(run(kit.lh_req(), pins={"lh": "b9/x"}), inv, free())
        assert isinstance(result, Impossible)
        assert "pinned to b9/x, which no bench has announced" in result.reason

    def test_a_pin_to_the_wrong_type_is_refused(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.reader("r")))
        result = resolve(run(kit.lh_req(), pins={"lh": "b1/r"}), inv, free())
        assert isinstance(result, Impossible)
        assert "it is a PlateReader" in result.reason

    def test_a_busy_pinned_asset_waits_even_if_another_is_free(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b")))
        result = resolve(run(kit.lh_req(), pins={"lh": "b1/a"}), inv, free(held_by("b1/a", "4f2c1a9b77")))
        assert isinstance(result, Waiting)
        assert "b1/a is reserved by run 4f2c1a9b until" in result.reason

    def test_a_pin_naming_no_asset_parameter_is_refused(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")))
        result = resolve(run(kit.lh_req(), pins={"pipette": "b1/a"}), inv, free())
        assert isinstance(result, Impossible)
        assert "'pipette'" in result.reason


class TestResolveSimulation:
    def test_a_real_run_never_gets_a_simulated_machine(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("sim", simulated=True)))
        result = resolve(run(kit.lh_req(), simulate=False), inv, free())
        assert isinstance(result, Impossible)
        assert "a real run never uses" in result.reason

    def test_a_simulated_run_never_gets_real_hardware_unless_allowed(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", simulated=False), simulated=False))
        refused = resolve(run(kit.lh_req()), inv, free())
        allowed = resolve(run(kit.lh_req(), allow_real=True), inv, free())
        assert isinstance(refused, Impossible) and "allow real hardware" in refused.reason
        assert isinstance(allowed, Placed)

    def test_a_simulated_run_prefers_nothing_real_when_a_simulator_exists(self, kit):
        inv = inventory(
            kit.announce("real", kit.liquid_handler("star", simulated=False), simulated=False),
            kit.announce("sim", kit.liquid_handler("sim")),
        )
        result = resolve(run(kit.lh_req()), inv, free())
        assert isinstance(result, Placed) and result.asset_ids == ["sim/sim"]


class TestResolveCapabilities:
    def test_capability_mismatch_is_explained_with_what_machines_have(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("ot2", capabilities=("channels:8",))))
        result = resolve(run(kit.lh_req("lh", "96_head")), inv, free())
        assert isinstance(result, Impossible)
        assert result.reason.startswith("no liquid handler with 96_head on any bench")
        assert "b1/ot2 has channels:8" in result.reason

    def test_key_value_capabilities_are_informational(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("ot2", capabilities=())))
        assert isinstance(resolve(run(kit.lh_req("lh", "channels:8")), inv, free()), Placed)

    def test_the_machine_with_the_capability_is_chosen(self, kit):
        inv = inventory(
            kit.announce("b1", kit.liquid_handler("ot2"), kit.liquid_handler("star", capabilities=("96_head",)))
        )
        result = resolve(run(kit.lh_req("lh", "96_head")), inv, free())
        assert isinstance(result, Placed) and result.asset_ids == ["b1/star"]


class TestResolveBenches:
    def test_machine_and_resources_come_from_one_bench(self, kit):
        inv = inventory(
            kit.announce("b1", kit.liquid_handler("a")),
            kit.announce("b2", kit.liquid_handler("b", resources=(kit.plate("p"),))),
        )
        result = resolve(run(kit.lh_req(), kit.plate_req()), inv, free())
        assert isinstance(result, Placed)
        assert {a.bench_id for a in result.assets} == {"b2"}

    def test_a_resource_never_sits_on_another_bench_than_the_machines(self, kit):
        inv = inventory(
            kit.announce("b1", kit.liquid_handler("a")),
            kit.announce("b2", kit.reader("r", resources=(kit.plate("p"),))),
        )
        result = resolve(run(kit.lh_req(), kit.plate_req()), inv, free())
        assert isinstance(result, Impossible)
        assert "same bench" in result.reason

    def test_machines_may_span_benches_when_no_bench_has_all(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")), kit.announce("b2", kit.reader("r")))
        result = resolve(run(kit.lh_req(), kit.reader_req()), inv, free())
        assert isinstance(result, Placed)
        assert result.asset_ids == ["b1/a", "b2/r"]


class TestResolveAvailability:
    def test_busy_assets_make_the_run_wait_and_say_who_holds_them_until_when(self, kit):
        inv = inventory(kit.announce("bench-2", kit.liquid_handler("star", capabilities=("96_head",))))
        result = resolve(run(kit.lh_req("lh", "96_head")), inv, free(held_by("bench-2/star", "4f2c1a9b00")))
        assert isinstance(result, Waiting)
        assert result.reason == (
            "no free liquid handler with 96_head for 'lh': bench-2/star is reserved by run 4f2c1a9b "
            "until 2030-01-07 11:00 UTC"
        )

    def test_a_user_booking_blocks_and_is_described(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star")))
        result = resolve(run(kit.lh_req()), inv, free(held_by("b1/star", "alice", kind="user")))
        assert isinstance(result, Waiting)
        assert "booked by alice (calibration)" in result.reason

    def test_a_booked_deck_resource_blocks_its_machine(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", resources=(kit.plate("p"),))))
        result = resolve(run(kit.lh_req()), inv, free(held_by("b1/star/p", "other-run")))
        assert isinstance(result, Waiting)
        assert "b1/star/p is reserved by run other-ru" in result.reason

    def test_an_offline_bench_makes_the_run_wait(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star")), offline=("b1",))
        result = resolve(run(kit.lh_req()), inv, free())
        assert isinstance(result, Waiting) and "offline" in result.reason

    def test_a_faulted_machine_makes_the_run_wait(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("star", status="error")))
        result = resolve(run(kit.lh_req()), inv, free())
        assert isinstance(result, Waiting) and "status 'error'" in result.reason

    def test_a_free_alternative_is_taken_when_one_is_busy(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b")))
        result = resolve(run(kit.lh_req()), inv, free(held_by("b1/a", "x")))
        assert isinstance(result, Placed) and result.asset_ids == ["b1/b"]

    def test_assets_held_for_a_run_ahead_are_not_taken(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")))
        result = resolve(run(kit.lh_req()), inv, free(held={"b1/a": "earlier-run"}))
        assert isinstance(result, Waiting) and "held for run earlier-" in result.reason

    def test_a_waiting_run_names_the_free_assets_it_would_take(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.reader("r")))
        result = resolve(run(kit.lh_req(), kit.reader_req()), inv, free(held_by("b1/r", "x")))
        assert isinstance(result, Waiting)
        assert result.tentative == ("b1/a",)

    def test_its_own_reservations_do_not_block_a_run(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")))
        assert isinstance(resolve(run(kit.lh_req(), run_id="me"), inv, free(held_by("b1/a", "me"))), Placed)


class TestResolveOptional:
    def test_an_optional_requirement_is_filled_when_possible(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a", resources=(kit.plate("p"),))))
        result = resolve(run(kit.lh_req(), kit.plate_req(optional=True)), inv, free())
        assert isinstance(result, Placed) and result.asset_ids == ["b1/a", "b1/a/p"]

    def test_a_missing_optional_requirement_does_not_block(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a")))
        result = resolve(run(kit.lh_req(), kit.plate_req(optional=True)), inv, free())
        assert isinstance(result, Placed) and result.asset_ids == ["b1/a"]


class TestResolveAlternatives:
    def test_a_single_asset_run_lists_every_free_equivalent_asset(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b"), kit.liquid_handler("c")))
        result = resolve(run(kit.lh_req()), inv, free(held_by("b1/b", "x")))
        assert isinstance(result, Placed)
        assert result.asset_ids == ["b1/a"] and result.alternatives == ("b1/a", "b1/c")

    def test_a_pinned_or_multi_asset_run_has_no_alternatives(self, kit):
        inv = inventory(kit.announce("b1", kit.liquid_handler("a"), kit.liquid_handler("b"), kit.reader("r")))
        pinned = resolve(run(kit.lh_req(), pins={"lh": "b1/b"}), inv, free())
        several = resolve(run(kit.lh_req(), kit.reader_req()), inv, free())
        assert isinstance(pinned, Placed) and pinned.alternatives == ()
        assert isinstance(several, Placed) and several.alternatives == ()
