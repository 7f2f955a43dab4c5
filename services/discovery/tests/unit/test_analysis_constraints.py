"""User parameters: types as written, literal defaults, Annotated constraints, and the contract's validator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from praxis_contracts.protocols import InvalidParameter, ParameterSpec
from praxis_discovery.analysis import Analysis


def _params(result: Analysis) -> dict[str, ParameterSpec]:
    (definition,) = result.protocols
    return {p.name: p for p in definition.parameters}


class TestAnnotated:
    def test_praxis_markers(self, analyze: Callable[[str], Analysis]) -> None:
        volume = _params(analyze("constraints.py"))["volume"]
        assert (volume.type, volume.required, volume.default) == ("float", True, None)
        assert (volume.minimum, volume.maximum, volume.unit) == (1.0, 200.0, "uL")
        assert volume.description == "Volume per well"

    def test_keyword_range_and_partial_range(self, analyze: Callable[[str], Analysis]) -> None:
        params = _params(analyze("constraints.py"))
        assert (params["speed"].minimum, params["speed"].maximum, params["speed"].unit) == (100.0, 2000.0, "rpm")
        assert (params["gain"].minimum, params["gain"].maximum) == (None, 10.0)

    def test_annotated_types_bounds(self, analyze: Callable[[str], Analysis]) -> None:
        params = _params(analyze("constraints.py"))
        assert (params["temperature"].minimum, params["temperature"].maximum, params["temperature"].unit) == (
            4.0,
            95.0,
            "C",
        )
        assert (params["duration"].minimum, params["duration"].maximum) == (0.0, 3600.0)

    def test_choices_and_bare_string_description(self, analyze: Callable[[str], Analysis]) -> None:
        mode = _params(analyze("constraints.py"))["mode"]
        assert (mode.choices, mode.description, mode.default) == (["fast", "slow"], "How to run", "fast")

    def test_literal_gives_choices(self, analyze: Callable[[str], Analysis]) -> None:
        wavelength = _params(analyze("constraints.py"))["wavelength"]
        assert wavelength.type == "Literal[450, 600, 750]"
        assert wavelength.choices == [450, 600, 750]

    def test_plain_types_and_defaults(self, analyze: Callable[[str], Analysis]) -> None:
        params = _params(analyze("constraints.py"))
        assert [(params[n].type, params[n].default) for n in ("replicates", "name", "dry_run", "offsets")] == [
            ("int", 3),
            ("str", "plate 1"),
            ("bool", False),
            ("list[float]", [0.0, 1.5]),
        ]

    def test_no_diagnostics_for_a_clean_file(self, analyze: Callable[[str], Analysis]) -> None:
        assert analyze("constraints.py").diagnostics == []


class TestDefaults:
    def test_non_literal_default_is_an_error(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        result = analyze("bad_values.py")
        assert "non_literal_default" not in {p.function for p in result.protocols}
        line, column = locate(protocol_source("bad_values.py"), "DEFAULT_VOLUME)")
        assert any(
            (d.line, d.column) == (line, column) and "must be a literal" in d.message for d in result.diagnostics
        )

    def test_asset_default_other_than_none_and_variadics(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("bad_values.py")
        assert "asset_default" not in {p.function for p in result.protocols}
        messages = [d.message for d in result.diagnostics]
        assert any("can only default to None" in m for m in messages)
        assert any("cannot be variadic" in m for m in messages)

    def test_default_outside_its_range_warns(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from typing import Annotated\nfrom praxis_protocol import Range, protocol\n\n"
            "@protocol\nasync def run(v: Annotated[float, Range(1, 10)] = 50) -> None:\n    pass\n"
        )
        assert len(result.protocols) == 1
        assert any(d.severity == "warning" and "above its maximum" in d.message for d in result.diagnostics)


class TestContractValidation:
    """The definitions feed ``ProtocolDefinition.validate_parameters`` at the gateway: check they work there."""

    def test_defaults_filled_and_constraints_enforced(self, analyze: Callable[[str], Analysis]) -> None:
        (definition,) = analyze("constraints.py").protocols
        values = definition.validate_parameters({"volume": 20})
        assert values["speed"] == 800 and values["mode"] == "fast" and values["volume"] == 20.0
        with pytest.raises(InvalidParameter, match="volume"):
            definition.validate_parameters({"volume": 500})
        with pytest.raises(InvalidParameter, match="mode"):
            definition.validate_parameters({"volume": 5, "mode": "medium"})
        with pytest.raises(InvalidParameter, match="volume"):
            definition.validate_parameters({})
