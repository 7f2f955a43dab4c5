"""Facts about pylabrobot 0.2.2, established by running it, that the static catalog must reproduce.

The facts and how they were found: docs/discovery.md, "Facts about PyLabRobot 0.2.2 this catalog relies on".
"""

from __future__ import annotations

import pytest

from praxis_discovery.catalog import Catalog, validate_machine

pytestmark = pytest.mark.skipif(
    "not __import__('importlib.metadata').metadata.version('pylabrobot') == '0.2.2'",
    reason="facts measured for pylabrobot 0.2.2",
)

# USB VID:PID written as literals in the 0.2.2 source (docs/discovery.md, USB ids).
USB_IDS = {
    "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend": ["08AF:8000"],
    "pylabrobot.liquid_handling.backends.hamilton.vantage_backend.VantageBackend": ["08AF:8003"],
    "pylabrobot.heating_shaking.hamilton_backend.HamiltonHeaterShakerBackend": ["08AF:8002"],
    "pylabrobot.only_fans.hamilton_hepa_fan_backend.HamiltonHepaFanBackend": ["0856:AC11"],
    "pylabrobot.liquid_handling.backends.tecan.EVO_backend.EVOBackend": ["0C47:4000"],
    "pylabrobot.plate_reading.tecan.infinite_backend.ExperimentalTecanInfinite200ProBackend": ["0C47:8007"],
    "pylabrobot.plate_reading.tecan.spark20m.spark_backend.ExperimentalSparkBackend": [
        "0C47:8022",
        "0C47:8026",
        "0C47:8027",
        "0C47:8028",
    ],
    "pylabrobot.plate_reading.bmg_labtech.clario_star_backend.CLARIOstarBackend": ["0403:BB68"],
    "pylabrobot.plate_reading.byonoy.byonoy_backend.ByonoyAbsorbance96AutomateBackend": ["16D0:1199"],
    "pylabrobot.plate_reading.byonoy.byonoy_backend.ByonoyLuminescence96AutomateBackend": ["16D0:119B"],
    "pylabrobot.temperature_controlling.inheco.cpac_backend.InhecoCPACBackend": ["03EB:2023"],
    "pylabrobot.storage.inheco.incubator_shaker_backend.InhecoIncubatorShakerStackBackend": ["0403:6001"],
    "pylabrobot.scales.mettler_toledo_backend.MettlerToledoWXS205SDUBackend": ["0403:6001"],
    "pylabrobot.thermocycling.opentrons_backend_usb.OpentronsThermocyclerUSBBackend": ["0483:ED8D", "04D8:ED8C"],
}


def test_usb_ids_of_the_fourteen_devices(static_catalog: Catalog) -> None:
    problems = []
    for fqn, expected in USB_IDS.items():
        backend = static_catalog.backend(fqn)
        got = sorted(backend.usb_ids) if backend else None
        if got != sorted(expected):
            problems.append(f"{fqn}: {got} != {expected}")
    assert not problems, "\n".join(problems)


def test_simulated_backends_carry_no_usb_ids(static_catalog: Catalog) -> None:
    assert not [b.fqn for b in static_catalog.backends if b.simulated and b.usb_ids]


def test_twenty_concrete_simulated_backends_and_no_look_alikes(static_catalog: Catalog) -> None:
    simulated = [b.name for b in static_catalog.backends if b.simulated and not b.abstract]
    assert len(simulated) == 20
    assert "ChatterBoxBackend" not in simulated and "CLARIOStarBackend" not in simulated


def test_four_deprecated_aliases_point_at_their_replacement(static_catalog: Catalog) -> None:
    deprecated = {b.name: b.replacement for b in static_catalog.backends if b.deprecated}
    assert deprecated == {
        "STAR": "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend",
        "Vantage": "pylabrobot.liquid_handling.backends.hamilton.vantage_backend.VantageBackend",
        "EVO": "pylabrobot.liquid_handling.backends.tecan.EVO_backend.EVOBackend",
        "Cytation5Backend": "pylabrobot.plate_reading.agilent.biotek_cytation_backend.CytationBackend",
    }


def test_only_two_simulated_backends_need_an_extra(static_catalog: Catalog) -> None:
    """With no extras, 18 of 20 simulated backends ran setup/stop; the Cytomat and tilt-module chatterboxes
    inherit constructors that demand pyserial."""
    needing = {b.name: [r.module for r in b.requires] for b in static_catalog.backends if b.simulated and b.requires}
    assert needing == {"CytomatChatterbox": ["serial"], "HamiltonTiltModuleChatterboxBackend": ["serial"]}


def test_real_drivers_need_their_transport(static_catalog: Catalog) -> None:
    star = static_catalog.backend("pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend")
    clario = static_catalog.backend("pylabrobot.plate_reading.bmg_labtech.clario_star_backend.CLARIOstarBackend")
    ot2 = static_catalog.backend("pylabrobot.liquid_handling.backends.opentrons_backend.OpentronsOT2Backend")
    assert star and clario and ot2
    assert {r.extra for r in star.requires} == {"usb"} and star.transports == ["usb"]
    assert {r.module for r in clario.requires} == {"pylibftdi", "usb"} and clario.transports == ["ftdi"]
    assert {r.extra for r in ot2.requires} == {"opentrons"}


def test_one_simulated_frontend_per_generic_frontend_with_a_simulator(static_catalog: Catalog) -> None:
    names = {s.name: s for s in static_catalog.simulated_frontends}
    assert set(names) == {
        "Simulated Liquid Handler",
        "Simulated Plate Reader",
        "Simulated Heater Shaker",
        "Simulated Shaker",
        "Simulated Temperature Controller",
        "Simulated Thermocycler",
        "Simulated Centrifuge",
        "Simulated Loader",
        "Simulated Incubator",
        "Simulated Pump",
        "Simulated Pump Array",
        "Simulated Tilter",
        "Simulated Scale",
        "Simulated Fan",
        "Simulated Powder Dispenser",
    }
    lh = names["Simulated Liquid Handler"]
    assert lh.backends[0] == "pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend"
    assert {b.rsplit(".", 1)[-1] for b in lh.backends} == {
        "LiquidHandlerChatterboxBackend",
        "STARChatterboxBackend",
        "OpentronsOT2ChatterboxBackend",
        "OpentronsOT2Simulator",
    }
    for entry in static_catalog.simulated_frontends:
        for backend in entry.backends:
            assert validate_machine(entry.frontend, backend, static_catalog) is None


def test_every_categorised_simulated_backend_is_offered(static_catalog: Catalog) -> None:
    offered = {b for s in static_catalog.simulated_frontends for b in s.backends}
    concrete = {b.fqn for b in static_catalog.backends if b.simulated and not b.abstract}
    assert offered == concrete


def test_resource_factory_inventory(static_catalog: Catalog) -> None:
    factories = [r for r in static_catalog.resources if r.callable == "factory"]
    assert len(factories) == 500
    kinds: dict[str, int] = {}
    for r in factories:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    assert (kinds["Plate"], kinds["PlateCarrier"], kinds["TipRack"], kinds["TipCarrier"], kinds["Lid"]) == (
        103,
        100,
        99,
        59,
        42,
    )
    assert sum(r.raises_on_call for r in factories) == 29 + 27 + 9
    assert len(static_catalog.frontend_factories) == 14


def test_short_import_paths(static_catalog: Catalog) -> None:
    paths = {e.name: e.import_path for e in [*static_catalog.frontends, *static_catalog.backends]}
    assert paths["LiquidHandler"] == "pylabrobot.liquid_handling.LiquidHandler"
    assert paths["LiquidHandlerChatterboxBackend"] == "pylabrobot.liquid_handling.LiquidHandlerChatterboxBackend"
    # not re-exported by any package in 0.2.2: the defining module is the path
    assert paths["STARChatterboxBackend"] == (
        "pylabrobot.liquid_handling.backends.hamilton.STAR_chatterbox.STARChatterboxBackend"
    )
    # never through the deprecated shim module plate_reading/clario_star_backend.py
    assert paths["CLARIOstarBackend"] == "pylabrobot.plate_reading.CLARIOstarBackend"
    assert paths["Peeler"] == "pylabrobot.peeling.peeler.Peeler"


def test_constructor_parameters(static_catalog: Catalog) -> None:
    star = static_catalog.backend("pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STAR")
    assert star is not None
    assert "serial_number" in [p.name for p in star.params]  # the alias's *args/**kwargs resolve to STARBackend
    cytomat = static_catalog.backend("pylabrobot.storage.cytomat.cytomat.CytomatChatterbox")
    assert cytomat is not None and {p.name for p in cytomat.params if p.required} == {"model", "port"}
