"""Bench configs: the simulated bench builds; every mistake is reported with its machine and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pylabrobot.heating_shaking import HeaterShaker
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.machines.machine import Machine
from pylabrobot.plate_reading import PlateReader
from pylabrobot.resources import Coordinate, Plate, TipRack, Trough

from praxis_plrbridge.bench_config import (
    BenchConfig,
    BenchConfigError,
    build_machine,
    coerce_kwargs,
    load_bench_config,
    parse_bench_config,
)


@pytest.fixture
def raw(sim_bench_path: Path) -> dict[str, Any]:
    data = yaml.safe_load(sim_bench_path.read_text())
    assert isinstance(data, dict)
    return data


def only_issue(exc: BenchConfigError) -> tuple[str | None, str, str]:
    assert len(exc.issues) == 1, exc.issues
    issue = exc.issues[0]
    return issue.machine, issue.field, issue.message


class TestSimBench:
    def test_it_loads(self, sim_config: BenchConfig) -> None:
        assert sim_config.bench_id == "sim-bench-1" and sim_config.simulated
        assert [m.name for m in sim_config.machines] == ["lh", "reader"]

    def test_it_builds_a_liquid_handler_with_its_labware(self, sim_machines: dict[str, Machine]) -> None:
        lh = sim_machines["lh"]
        assert isinstance(lh, LiquidHandler) and lh.name == "lh"
        assert isinstance(lh.deck.get_resource("tips_01"), TipRack)
        assert all(isinstance(lh.deck.get_resource(f"plate_0{i}"), Plate) for i in (1, 2, 3))
        trough = lh.deck.get_resource("trough_01")
        assert isinstance(trough, Trough) and trough.tracker.get_used_volume() == 150_000

    def test_it_builds_a_reader_holding_a_plate(self, sim_machines: dict[str, Machine]) -> None:
        reader = sim_machines["reader"]
        assert isinstance(reader, PlateReader) and reader.get_plate().name == "read_plate_01"


class TestValidation:
    def test_an_unimportable_backend_names_machine_and_field(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["backend"] = "pylabrobot.liquid_handling.backends.NoSuchBackend"
        cfg = parse_bench_config(raw)
        with pytest.raises(BenchConfigError) as err:
            build_machine(cfg.machines[0])
        machine, field, message = only_issue(err.value)
        assert (machine, field) == ("lh", "backend") and "NoSuchBackend" in message

    def test_a_backend_that_does_not_serve_the_frontend_is_refused_with_why(self, raw: dict[str, Any]) -> None:
        raw["machines"][1]["backend"] = "pylabrobot.liquid_handling.backends.LiquidHandlerChatterboxBackend"
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[1])
        machine, field, message = only_issue(err.value)
        assert (machine, field) == ("reader", "backend")
        assert "does not serve a PlateReader" in message and "PlateReaderBackend" in message

    def test_a_frontend_that_is_not_a_machine(self, raw: dict[str, Any]) -> None:
        raw["machines"][1]["frontend"] = "pylabrobot.resources.Plate"
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[1])
        assert only_issue(err.value)[:2] == ("reader", "frontend")

    def test_a_wrong_type_is_reported_with_its_path(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["rails"] = "eight"
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == ("lh", "labware[1].rails")
        assert "machine 'lh', field labware[1].rails" in str(err.value)

    def test_unknown_keys_are_refused(self, raw: dict[str, Any]) -> None:
        raw["machines"][1]["backend_kwrags"] = {}
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == ("reader", "backend_kwrags")

    def test_bench_id_must_be_one_subject_token(self, raw: dict[str, Any]) -> None:
        raw["bench_id"] = "sim.bench"
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == (None, "bench_id")

    @pytest.mark.parametrize("value", [0, -5, "30", True, float("inf"), float("nan")])
    def test_unreachable_timeout_must_be_a_positive_number(self, raw: dict[str, Any], value: Any) -> None:
        raw["unreachable_timeout_s"] = value
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == (None, "unreachable_timeout_s")
        assert "field unreachable_timeout_s" in str(err.value)

    @pytest.mark.parametrize(("value", "expected"), [(None, None), (30, 30.0), (2.5, 2.5)])
    def test_unreachable_timeout_is_optional(self, raw: dict[str, Any], value: Any, expected: float | None) -> None:
        if value is not None:
            raw["unreachable_timeout_s"] = value
        assert parse_bench_config(raw).unreachable_timeout_s == expected

    def test_a_machine_may_say_whether_it_is_simulated(self, raw: dict[str, Any]) -> None:
        raw["machines"][1]["simulated"] = False
        config = parse_bench_config(raw)
        assert config.machine("reader").simulated is False and config.machine("lh").simulated is None
        raw["machines"][1]["simulated"] = "sometimes"
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == ("reader", "simulated")

    def test_duplicate_machine_names(self, raw: dict[str, Any]) -> None:
        raw["machines"].append(copy.deepcopy(raw["machines"][1]))
        with pytest.raises(BenchConfigError, match="unique on a bench"):
            parse_bench_config(raw)

    def test_duplicate_labware_names_on_a_machine(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["children"][1]["name"] = "plate_01"
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[0] == "lh" and "plate_01" in str(err.value)

    def test_two_placements_are_ambiguous(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][0]["slot"] = 3
        with pytest.raises(BenchConfigError) as err:
            parse_bench_config(raw)
        assert only_issue(err.value)[:2] == ("lh", "labware[0]")

    def test_a_liquid_handler_needs_a_deck(self, raw: dict[str, Any]) -> None:
        del raw["machines"][0]["deck"]
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[0])
        assert only_issue(err.value)[:2] == ("lh", "deck")

    def test_occupied_rails_name_the_labware_entry(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["rails"] = 2
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[0])
        machine, field, _ = only_issue(err.value)
        assert (machine, field) == ("lh", "labware[1].rails")

    def test_a_factory_that_does_not_exist(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["children"][2]["factory"] = "pylabrobot.resources.no_such_plate"
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[0])
        assert only_issue(err.value)[:2] == ("lh", "labware[1].children[2].factory")

    def test_well_volumes_must_match_the_wells(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["children"][0]["well_volumes"] = [10.0, 20.0]
        with pytest.raises(BenchConfigError) as err:
            build_machine(parse_bench_config(raw).machines[0])
        machine, field, message = only_issue(err.value)
        assert (machine, field) == ("lh", "labware[1].children[0].well_volumes") and "96 wells" in message

    def test_yaml_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        path = tmp_path / "bench.yaml"
        path.write_text("- just\n- a list\n")
        with pytest.raises(BenchConfigError, match="mapping"):
            load_bench_config(path)


class TestBuilding:
    def test_well_volumes_by_identifier(self, raw: dict[str, Any]) -> None:
        raw["machines"][0]["labware"][1]["children"][0]["well_volumes"] = {"A1:H1": 200.0, "A2": 50.0}
        lh = build_machine(parse_bench_config(raw).machines[0])
        assert isinstance(lh, LiquidHandler)
        plate = lh.deck.get_resource("plate_01")
        assert isinstance(plate, Plate)
        assert [w.tracker.get_used_volume() for w in plate.get_items("A1:H1")] == [200.0] * 8
        assert plate.get_item("A2").tracker.get_used_volume() == 50.0
        assert plate.get_item("B2").tracker.get_used_volume() == 0.0

    def test_coordinates_in_kwargs(self) -> None:
        assert coerce_kwargs({"child_location": {"x": 0, "y": 0, "z": 50}, "n": [1]}) == {
            "child_location": Coordinate(0, 0, 50),
            "n": [1],
        }

    def test_a_machine_with_a_child_location(self) -> None:
        cfg = parse_bench_config(
            {
                "bench_id": "b",
                "machines": [
                    {
                        "name": "hs",
                        "frontend": "pylabrobot.heating_shaking.HeaterShaker",
                        "backend": "pylabrobot.heating_shaking.HeaterShakerChatterboxBackend",
                        "frontend_kwargs": {
                            "size_x": 100,
                            "size_y": 100,
                            "size_z": 50,
                            "child_location": {"x": 0, "y": 0, "z": 50},
                        },
                        "labware": [{"name": "hs_plate", "factory": "pylabrobot.resources.cor_96_wellplate_360uL_Fb"}],
                    }
                ],
            }
        )
        hs = build_machine(cfg.machines[0])
        assert isinstance(hs, HeaterShaker) and hs.get_resource("hs_plate").location == Coordinate(0, 0, 50)
