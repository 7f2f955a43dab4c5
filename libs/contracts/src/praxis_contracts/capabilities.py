"""The capability vocabulary: what a machine can do, as discovery infers it from a protocol's calls and as a
hardware agent announces it for a machine. The scheduler matches one against the other, so both sides must use
exactly these names (tests on each side check it). ``channels:<n>`` is informational and may also appear."""

from __future__ import annotations

CAPABILITIES: frozenset[str] = frozenset(
    {
        "pipetting",
        "96_head",
        "gripper",
        "manual_channel_control",
        "tip_presence_probing",
        "absorbance",
        "fluorescence",
        "luminescence",
        "imaging",
        "temperature_control",
        "shaking",
        "thermocycling",
        "heated_lid",
        "motorized_lid",
        "centrifugation",
        "centrifuge_loading",
        "plate_storage",
        "pumping",
        "volume_dosing",
        "weighing",
        "tilting",
        "sealing",
        "peeling",
        "powder_dispensing",
        "barcode_scanning",
        "arm_motion",
        "ventilation",
    }
)


def is_known(capability: str) -> bool:
    return capability in CAPABILITIES or capability.startswith("channels:")
