"""Parameter annotations: assets vs user values, Optional / unions / selectors, and unknown types."""

from __future__ import annotations

from collections.abc import Callable

from praxis_contracts.protocols import AssetRequirement
from praxis_discovery.analysis import Analysis

PLATE = "pylabrobot.resources.plate.Plate"
TROUGH = "pylabrobot.resources.trough.Trough"
TUBE = "pylabrobot.resources.tube.Tube"
WELL = "pylabrobot.resources.well.Well"
TIP_SPOT = "pylabrobot.resources.tip_rack.TipSpot"


def _assets(result: Analysis, function: str | None = None) -> dict[str, AssetRequirement]:
    protocols = [p for p in result.protocols if function is None or p.function == function]
    assert protocols, result.diagnostics
    return {a.name: a for a in protocols[0].assets}


class TestOptionalAndUnions:
    def test_optional_machine(self, analyze: Callable[[str], Analysis]) -> None:
        reader = _assets(analyze("optional_union.py"))["reader"]
        assert reader.kind == "machine" and reader.optional
        assert reader.plr_type == "pylabrobot.plate_reading.plate_reader.PlateReader"
        assert reader.category == "plate_reading"

    def test_pipe_none(self, analyze: Callable[[str], Analysis]) -> None:
        plate = _assets(analyze("optional_union.py"))["maybe_plate"]
        assert plate.plr_type == PLATE and plate.optional and not plate.alternatives

    def test_union_gives_alternatives(self, analyze: Callable[[str], Analysis]) -> None:
        assets = _assets(analyze("optional_union.py"))
        assert (assets["source"].plr_type, assets["source"].alternatives) == (TROUGH, [PLATE])
        assert not assets["source"].optional
        assert (assets["vessel"].plr_type, assets["vessel"].alternatives) == (TROUGH, [TUBE, PLATE])
        assert assets["either_or_none"].optional and assets["either_or_none"].alternatives == [PLATE]

    def test_default_none_makes_an_asset_optional(self, analyze: Callable[[str], Analysis]) -> None:
        assert _assets(analyze("optional_union.py"))["defaulted"].optional

    def test_optional_user_values(self, analyze: Callable[[str], Analysis]) -> None:
        (definition,) = analyze("optional_union.py").protocols
        params = {p.name: p for p in definition.parameters}
        assert (params["note"].type, params["note"].default, params["note"].required) == ("Optional[str]", None, False)
        assert (params["count"].type, params["count"].default) == ("int | None", 3)

    def test_mixing_assets_and_values_is_an_error(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\nfrom pylabrobot.resources import Plate\n\n"
            "@protocol\nasync def run(x: Plate | int) -> None:\n    pass\n"
        )
        assert result.protocols == []
        assert any("mixes PyLabRobot assets and plain values" in d.message for d in result.diagnostics)


class TestSelectors:
    def test_lists_and_sequences_of_resources_are_many(self, analyze: Callable[[str], Analysis]) -> None:
        assets = _assets(analyze("selectors.py"))
        for name, plr_type in [
            ("wells", WELL),
            ("spots", TIP_SPOT),
            ("typed_list", WELL),
            ("abc_spots", TIP_SPOT),
            ("fixed", WELL),
        ]:
            assert (assets[name].plr_type, assets[name].many, assets[name].kind) == (plr_type, True, "resource"), name
        assert assets["maybe_wells"].many and assets["maybe_wells"].optional
        assert assets["containers"].plr_type == "pylabrobot.resources.container.Container"

    def test_deck_is_a_single_resource(self, analyze: Callable[[str], Analysis]) -> None:
        deck = _assets(analyze("selectors.py"))["deck"]
        assert (deck.plr_type, deck.kind, deck.many) == ("pylabrobot.resources.deck.Deck", "resource", False)

    def test_list_of_floats_stays_a_user_parameter(self, analyze: Callable[[str], Analysis]) -> None:
        (definition,) = analyze("selectors.py").protocols
        assert [(p.name, p.type, p.required) for p in definition.parameters] == [("volumes", "list[float]", True)]


class TestResolution:
    def test_re_exported_names_resolve_to_defining_modules(self, analyze: Callable[[str], Analysis]) -> None:
        assets = _assets(analyze("serial_dilution.py"))
        assert assets["lh"].plr_type == "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
        assert assets["tips"].plr_type == "pylabrobot.resources.tip_rack.TipRack"
        assert assets["buffer"].plr_type == TROUGH

    def test_star_import_from_plr(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\nfrom pylabrobot.resources import *\n\n"
            "@protocol\nasync def run(plate: Plate, tips: TipRack) -> None:\n    pass\n"
        )
        assert {a.plr_type for a in result.protocols[0].assets} == {PLATE, "pylabrobot.resources.tip_rack.TipRack"}

    def test_dotted_module_import(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "import pylabrobot.resources\nfrom praxis_protocol import protocol\n\n"
            "@protocol\nasync def run(plate: pylabrobot.resources.Plate) -> None:\n    pass\n"
        )
        assert result.protocols[0].assets[0].plr_type == PLATE

    def test_vendor_subclass_keeps_its_own_type(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\nfrom pylabrobot.resources.tecan import TecanPlate\n\n"
            "@protocol\nasync def run(plate: TecanPlate) -> None:\n    pass\n"
        )
        assert result.protocols[0].assets[0].plr_type == "pylabrobot.resources.tecan.plates.TecanPlate"


class TestUnknownTypes:
    def test_each_unknown_type_is_reported_and_its_protocol_withheld(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        source = protocol_source("unknown_type.py")
        result = analyze("unknown_type.py")
        assert [p.function for p in result.protocols] == ["fine"]
        errors = {(d.line, d.column): d.message for d in result.diagnostics if d.severity == "error"}
        assert "decimal.Decimal" in errors[locate(source, "Decimal,")]
        assert "defined in the protocol file" in errors[locate(source, "Settings,")]
        assert "neither a PyLabRobot machine nor a resource" in errors[locate(source, "Coordinate,", 2)]
        assert "not imported" in errors[locate(source, "Volume)")]

    def test_backend_as_parameter_type(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\n"
            "from pylabrobot.liquid_handling.backends import LiquidHandlerChatterboxBackend\n\n"
            "@protocol\nasync def run(b: LiquidHandlerChatterboxBackend) -> None:\n    pass\n"
        )
        assert result.protocols == []
        assert any("is a backend" in d.message for d in result.diagnostics)

    def test_resource_factory_as_parameter_type(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\nfrom pylabrobot.resources import cor_96_wellplate_360uL_Fb\n\n"
            "@protocol\nasync def run(p: cor_96_wellplate_360uL_Fb) -> None:\n    pass\n"
        )
        assert result.protocols == []
        assert any("factory function, not a type" in d.message and "Plate" in d.message for d in result.diagnostics)

    def test_missing_annotation(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("bad_values.py")
        assert "untyped" not in {p.function for p in result.protocols}
        assert any("'volume' needs a type annotation" in d.message for d in result.diagnostics)


class TestEdgeCases:
    def test_typing_star_import_and_string_members(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from typing import *\nfrom praxis_protocol import protocol\nfrom pylabrobot.resources import Plate, Well\n\n"
            "@protocol\nasync def run(p: 'Plate | None', w: list['Well'], q: Optional['Plate']) -> None:\n    pass\n"
        )
        assets = _assets(result)
        assert (assets["p"].optional, assets["w"].many, assets["q"].optional) == (True, True, True)

    def test_parameter_typed_none(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\n\n@protocol\nasync def run(n: None) -> None:\n    pass\n"
        )
        assert result.protocols == [] and "cannot be typed None" in result.diagnostics[0].message

    def test_protocol_inside_a_class_or_block(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\n\nclass Holder:\n    @protocol\n    async def run(self) -> None:\n"
            "        pass\n"
        )
        assert result.protocols == []
        assert [d.message for d in result.diagnostics] == ["protocol 'run' must be a module-level function"]

    def test_machine_and_resource_union_is_refused(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from praxis_protocol import protocol\nfrom pylabrobot.liquid_handling import LiquidHandler\n"
            "from pylabrobot.resources import Plate\n\n@protocol\nasync def run(x: LiquidHandler | Plate) -> None:\n"
            "    pass\n"
        )
        assert result.protocols == [] and "mixes machines and resources" in result.diagnostics[0].message
