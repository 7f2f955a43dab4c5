"""What a bench announces: classes, category, capabilities and every resource with its kind."""

from __future__ import annotations

from pylabrobot.machines.machine import Machine

from praxis_plrbridge.bench_config import BenchConfig, MachineConfig, build_machine
from praxis_plrbridge.inventory import describe_machine


def test_liquid_handler(sim_config: BenchConfig, sim_machines: dict[str, Machine]) -> None:
    info = describe_machine(sim_config.machine("lh"), sim_machines["lh"])
    assert info.frontend == "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
    assert info.backend == "pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend"
    assert info.frontend_chain[0] == info.frontend and "pylabrobot.machines.machine.Machine" in info.frontend_chain
    assert info.category == "liquid_handling" and info.simulated
    assert set(info.capabilities) == {"pipetting", "channels:8", "96_head", "gripper", "tip_presence_probing"}
    by_name = {r.name: r for r in info.resources}
    assert by_name["deck"].kind == "Deck"
    assert by_name["plate_01"].kind == "Plate" and by_name["plate_01"].model == "cor_96_wellplate_360uL_Fb"
    assert by_name["tips_01"].kind == "TipRack" and by_name["tip_carrier"].kind == "TipCarrier"
    assert by_name["trough_01"].kind == "Trough"
    assert "pylabrobot.resources.container.Container" in by_name["trough_01"].type_chain
    assert not any(r.kind in ("Well", "TipSpot") for r in info.resources), "parts of labware are not assets"


def test_plate_reader(sim_config: BenchConfig, sim_machines: dict[str, Machine]) -> None:
    info = describe_machine(sim_config.machine("reader"), sim_machines["reader"])
    assert info.category == "plate_reading" and info.simulated
    assert {"absorbance", "fluorescence", "luminescence"} <= set(info.capabilities)
    plates = [r for r in info.resources if r.kind == "Plate"]
    assert [(p.name, p.parent) for p in plates] == [("read_plate_01", "reader")]


def test_heater_shaker_and_explicit_capabilities() -> None:
    cfg = MachineConfig(
        name="hs",
        frontend="pylabrobot.heating_shaking.HeaterShaker",
        backend="pylabrobot.heating_shaking.HeaterShakerChatterboxBackend",
        frontend_kwargs={"size_x": 100, "size_y": 100, "size_z": 50, "child_location": {"x": 0, "y": 0, "z": 50}},
        capabilities=["plate_lock"],
    )
    info = describe_machine(cfg, build_machine(cfg))
    assert info.category == "heating_shaking"
    assert {"temperature_control", "shaking", "plate_lock"} <= set(info.capabilities)
    assert info.resources == []


def test_announced_capabilities_are_the_contract_vocabulary(
    sim_config: BenchConfig, sim_machines: dict[str, Machine]
) -> None:
    from praxis_contracts.capabilities import is_known

    for name, machine in sim_machines.items():
        caps = describe_machine(sim_config.machine(name), machine).capabilities
        assert all(is_known(c) for c in caps), (name, caps)
