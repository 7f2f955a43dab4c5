"""Recognising @protocol through every import spelling, and reading its arguments."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from praxis_discovery.analysis import Analysis


class TestDecoratorSpellings:
    def test_module_alias_call(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("aliased_imports.py")
        by_function = {p.function: p for p in result.protocols}
        assert by_function["module_alias"].name == "Module alias"
        assert by_function["module_alias"].version == "2.0.0"

    def test_bare_aliased_decorator_uses_function_name_and_docstring(self, analyze: Callable[[str], Analysis]) -> None:
        bare = {p.function: p for p in analyze("aliased_imports.py").protocols}["bare_alias"]
        assert bare.name == "bare_alias"
        assert bare.description == "Bare decorator: the name is the function's, the description its docstring."

    def test_decorator_module_path_with_empty_call(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("aliased_imports.py")
        assert "deep_import" not in {p.function for p in result.protocols}  # its "Plate" is never imported
        assert any("'Plate'" in d.message and d.severity == "error" for d in result.diagnostics)

    def test_aliased_plr_types_resolve_to_defining_classes(self, analyze: Callable[[str], Analysis]) -> None:
        by_function = {p.function: p for p in analyze("aliased_imports.py").protocols}
        assets = {a.name: a for a in by_function["module_alias"].assets}
        assert assets["plate"].plr_type == "pylabrobot.resources.plate.Plate"
        assert assets["lh"].plr_type == "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
        bare = {a.name: a for a in by_function["bare_alias"].assets}
        assert bare["hs"].plr_type == "pylabrobot.heating_shaking.heater_shaker.HeaterShaker"
        assert bare["hs"].category == "heating_shaking"
        assert bare["tips"].plr_type == "pylabrobot.resources.tip_rack.TipRack"  # string annotation "res.TipRack"

    def test_look_alike_decorator_is_not_a_protocol(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "def protocol(f):\n    return f\n\n\n@protocol\nasync def run(volume: float) -> None:\n    pass\n"
        )
        assert result.protocols == []
        assert any("not praxis_protocol.protocol" in d.message for d in result.diagnostics)


class TestDecoratorArguments:
    def test_full_metadata(self, analyze: Callable[[str], Analysis]) -> None:
        (definition,) = analyze("serial_dilution.py").protocols
        assert definition.name == "Serial dilution"
        assert definition.version == "1.2.0"
        assert definition.description == "Dilute a sample down a plate row and read absorbance."
        assert definition.setup_instructions == ["Fill the trough with buffer", "Place the sample plate"]
        assert definition.data_views == [
            {"name": "absorbance", "kind": "plate_heatmap", "description": "OD450 per well"}
        ]
        assert definition.estimated_duration_s == 600.0

    def test_dict_data_views_get_defaults(self, analyze: Callable[[str], Analysis]) -> None:
        third = {p.function: p for p in analyze("several.py").protocols}["third"]
        assert third.data_views == [{"name": "raw", "kind": "table", "description": ""}]
        assert third.setup_instructions == ["one", "two"]
        assert third.estimated_duration_s == 12.5

    def test_non_literal_name_is_an_error_at_its_position(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        result = analyze("bad_values.py")
        assert "computed_name" not in {p.function for p in result.protocols}
        line, column = locate(protocol_source("bad_values.py"), "NAME)")
        assert any(d.line == line and d.column == column and "literal" in d.message for d in result.diagnostics)

    def test_unknown_decorator_argument(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("bad_values.py")
        assert any("no argument 'colour'" in d.message for d in result.diagnostics)


class TestSeveralProtocols:
    def test_every_decorated_function_and_nothing_else(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("several.py")
        assert [p.function for p in result.protocols] == ["first", "second", "third"]
        assert [p.name for p in result.protocols] == ["First", "Second", "Third"]
        assert not [d for d in result.diagnostics if d.severity == "error"]

    def test_ids_and_hash(self, analyze: Callable[[str], Analysis], protocol_source: Callable[[str], str]) -> None:
        source = protocol_source("several.py")
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
        result = analyze("several.py")
        assert {p.id for p in result.protocols} == {f"{digest[:12]}-{f}" for f in ("first", "second", "third")}
        assert all(p.source_hash == digest and p.filename == "several.py" for p in result.protocols)

    def test_redefinition_keeps_the_later_one(self, analyze_text: Callable[[str], Analysis]) -> None:
        source = (
            "from praxis_protocol import protocol\n\n"
            "@protocol(name='one')\nasync def run() -> None:\n    pass\n\n"
            "@protocol(name='two')\nasync def run() -> None:\n    pass\n"
        )
        result = analyze_text(source)
        assert [p.name for p in result.protocols] == ["two"]
        assert any(d.severity == "warning" and "defined again" in d.message for d in result.diagnostics)
