"""What a bench announces about a machine: classes, category, capabilities and every resource it holds.

The scheduler matches a protocol's asset requirements (a parameter typed ``Plate``, ``TipRack``, ``PlateReader``)
against this inventory, so ``type_chain`` lists every PLR class in a resource's MRO (a requirement for ``Container``
is met by a ``Trough``) and ``kind`` gives the one word a person would use.
"""

from __future__ import annotations

from typing import Any

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.backends.backend import LiquidHandlerBackend
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Resource

from praxis_contracts.hardware import MachineInfo, ResourceInfo
from praxis_plrbridge.bench_config import MachineConfig
from praxis_plrbridge.imports import fqn
from praxis_plrbridge.state import walk

KINDS = (
    "Plate",
    "TipRack",
    "Trough",
    "Tube",
    "TubeRack",
    "PlateCarrier",
    "TipCarrier",
    "TroughCarrier",
    "TubeCarrier",
    "MFXCarrier",
    "Lid",
    "Deck",
    "Well",
    "TipSpot",
    "Trash",
    "PlateHolder",
    "PlateAdapter",
    "Carrier",
    "ResourceHolder",
    "Container",
    "ItemizedResource",
    "Resource",
)
"""Resource kinds, most specific first; a resource's kind is the first of these its MRO reaches."""

_FRONTEND_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "PlateReader": ("absorbance", "fluorescence", "luminescence"),
    "Imager": ("imaging",),
    "HeaterShaker": ("temperature_control", "shaking"),
    "TemperatureController": ("temperature_control",),
    "Shaker": ("shaking",),
    "Thermocycler": ("thermocycling", "heated_lid", "motorized_lid"),
    "Centrifuge": ("centrifugation",),
    "Loader": ("centrifuge_loading",),
    "Incubator": ("plate_storage", "temperature_control", "shaking"),
    "IncubatorShakerStack": ("temperature_control", "shaking"),
    "Scale": ("weighing",),
    "Pump": ("pumping", "volume_dosing"),
    "PumpArray": ("pumping", "volume_dosing"),
    "Fan": ("ventilation",),
    "Sealer": ("sealing", "temperature_control"),
    "Peeler": ("peeling",),
    "Tilter": ("tilting",),
    "BarcodeScanner": ("barcode_scanning",),
    "PowderDispenser": ("powder_dispensing",),
    "ExperimentalSCARA": ("gripper", "arm_motion"),
}
"""Capabilities by frontend class name, in discovery's vocabulary (``praxis_discovery.analysis.capabilities``):
the scheduler matches a protocol's inferred needs against these words, so they must be the same."""
_SINGLE_MODE_READERS = {
    "ByonoyAbsorbance96Automate": ("absorbance",),
    "ByonoyLuminescence96Automate": ("luminescence",),
}


def is_simulated(backend: Any) -> bool:
    """PLR marks simulators only by name (``*Chatterbox*``, ``OpentronsOT2Simulator``)."""
    name = type(backend).__name__
    return "Chatterbox" in name or "Simulator" in name


def category_of(frontend: Machine) -> str:
    """The PLR package of the frontend: ``pylabrobot.plate_reading.plate_reader`` -> ``plate_reading``."""
    parts = type(frontend).__module__.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "pylabrobot" else parts[0]


def plr_chain(cls: type[Any]) -> list[str]:
    """Fully qualified names of the PyLabRobot classes in ``cls``'s MRO, most specific first."""
    return [fqn(c) for c in cls.__mro__ if c.__module__.startswith("pylabrobot")]


def capabilities_of(frontend: Machine, extra: list[str] | None = None) -> list[str]:
    """Capabilities inferred from the frontend and backend, plus the config's explicit ``extra``, sorted."""
    caps: set[str] = set(extra or ())
    names = [c.__name__ for c in type(frontend).__mro__]
    single = next((_SINGLE_MODE_READERS[n] for n in names if n in _SINGLE_MODE_READERS), None)
    for name in names:
        caps.update(single if single and name == "PlateReader" else _FRONTEND_CAPABILITIES.get(name, ()))
    if isinstance(frontend, LiquidHandler):
        caps.update(_liquid_handler_capabilities(frontend))
    return sorted(caps)


def _overrides(backend: Any, method: str) -> bool:
    """Whether the concrete backend implements a method the ABC only stubs with NotImplementedError."""
    return getattr(type(backend), method, None) is not getattr(LiquidHandlerBackend, method, None)


def _liquid_handler_capabilities(lh: LiquidHandler) -> set[str]:
    backend = lh.backend
    caps: set[str] = set()
    try:
        channels = int(backend.num_channels)
    except Exception:  # some real backends learn their channel count at setup
        channels = 0
    if channels > 0:
        caps.update({"pipetting", f"channels:{channels}"})  # key:value entries are informational only
    if getattr(backend, "head96_installed", False):  # None (unknown before setup) counts as no
        caps.add("96_head")
    if int(getattr(backend, "num_arms", 0) or 0) > 0:
        caps.add("gripper")
    if _overrides(backend, "move_channel_x"):
        caps.add("manual_channel_control")
    if _overrides(backend, "request_tip_presence"):
        caps.add("tip_presence_probing")
    return caps


def kind_of(resource: Resource) -> str:
    names = {c.__name__ for c in type(resource).__mro__}
    return next(k for k in KINDS if k in names)


def resource_info(resource: Resource) -> ResourceInfo:
    return ResourceInfo(
        name=resource.name,
        plr_type=fqn(resource),
        type_chain=plr_chain(type(resource)),
        kind=kind_of(resource),
        parent=resource.parent.name if resource.parent is not None else None,
        model=resource.model,
    )


# Wells and tip spots are parts of a plate or rack, not labware of their own: announcing (and so reserving)
# each of them would make a bench hundreds of assets, and a run books its labware as a whole anyway.
_PARTS = ("Well", "TipSpot")


def machine_resources(frontend: Machine) -> list[Resource]:
    """The machine's labware: a liquid handler's deck and everything on it, or a machine's children."""
    if isinstance(frontend, LiquidHandler):
        found = list(walk(frontend.deck))
    elif isinstance(frontend, Resource):
        found = [r for child in frontend.children for r in walk(child)]
    else:
        found = []
    return [r for r in found if not any(c.__name__ in _PARTS for c in type(r).__mro__)]


def describe_machine(machine_cfg: MachineConfig, frontend: Machine) -> MachineInfo:
    """The machine as the bench announces it (``BenchAnnounced.machines``, ``BenchDescription.machines``)."""
    return MachineInfo(
        name=machine_cfg.name,
        frontend=fqn(frontend),
        frontend_chain=plr_chain(type(frontend)),
        backend=fqn(frontend.backend),
        category=category_of(frontend),
        simulated=is_simulated(frontend.backend),
        capabilities=capabilities_of(frontend, machine_cfg.capabilities),
        resources=[resource_info(r) for r in machine_resources(frontend)],
    )
