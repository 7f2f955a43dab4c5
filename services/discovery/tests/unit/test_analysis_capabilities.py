"""Capabilities inferred from what a protocol calls on each machine parameter."""

from __future__ import annotations

from collections.abc import Callable

from praxis_discovery.analysis import CAPABILITIES, Analysis, capability_for


def test_capabilities_per_machine(analyze: Callable[[str], Analysis]) -> None:
    (definition,) = analyze("capabilities.py").protocols
    assert definition.capabilities == {
        "lh": ["96_head", "gripper"],
        "reader": ["absorbance", "fluorescence", "luminescence"],
        "hs": ["shaking", "temperature_control"],
        "cooler": ["temperature_control"],
        "tc": ["motorized_lid", "thermocycling"],
        "spinner": ["centrifugation"],
        "idle": [],
    }
    assets = {a.name: a for a in definition.assets}
    assert assets["lh"].capabilities == ["96_head", "gripper"]
    assert assets["plate"].capabilities == [] and "plate" not in definition.capabilities


def test_alias_of_a_parameter_counts(analyze: Callable[[str], Analysis]) -> None:
    """``handler = lh; handler.pick_up_tips96(...)`` is the 96 head of ``lh``."""
    (definition,) = analyze("capabilities.py").protocols
    assert "96_head" in definition.capabilities["lh"]


def test_unknown_method_warns_at_the_call(analyze: Callable[[str], Analysis]) -> None:
    result = analyze("capabilities.py")
    (warning,) = [d for d in result.diagnostics if d.severity == "warning"]
    assert "LiquidHandler has no method 'aspriate'" in warning.message and warning.line is not None


def test_single_channel_only_protocol(analyze: Callable[[str], Analysis]) -> None:
    (definition,) = analyze("serial_dilution.py").protocols
    assert definition.capabilities["lh"] == ["96_head", "gripper", "pipetting"]
    assert definition.capabilities["reader"] == ["absorbance"]


def test_vocabulary_is_category_aware() -> None:
    assert capability_for("liquid_handling", "dispense") == "pipetting"
    assert capability_for("powder_dispensing", "dispense") == "powder_dispensing"
    assert capability_for("heating_shaking", "set_temperature") == "temperature_control"
    assert capability_for("liquid_handling", "summary") is None
    assert {
        "96_head",
        "gripper",
        "absorbance",
        "fluorescence",
        "luminescence",
        "temperature_control",
        "shaking",
    } <= CAPABILITIES
