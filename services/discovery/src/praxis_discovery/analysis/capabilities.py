"""The capability vocabulary: what a protocol needs a machine to be able to do, inferred from the frontend
methods it calls on that machine parameter.

The scheduler matches these against what a bench's machine records declare, so the names are a contract:

==========================  =====================================================================
capability                  inferred from
==========================  =====================================================================
``pipetting``               single-channel ops: pick_up_tips, aspirate, dispense, drop/return/discard_tips, transfer
``96_head``                 pick_up_tips96, aspirate96, dispense96, drop/return/discard_tips96, stamp
``gripper``                 move_plate, move_lid, move_resource, pick_up_resource, drop_resource (also arms)
``manual_channel_control``  move_channel_x/y/z, prepare_for_manual_channel_operation
``tip_presence_probing``    probe_tip_presence_via_pickup, probe_tip_inventory
``absorbance``              read_absorbance
``fluorescence``            read_fluorescence
``luminescence``            read_luminescence
``imaging``                 capture (Imager / ImageReader)
``temperature_control``     set_temperature, wait_for_temperature, deactivate (any heated/cooled machine)
``shaking``                 shake, stop_shaking, start_shaking, lock_plate, unlock_plate
``thermocycling``           run_protocol, run_pcr_profile, set_block_temperature, wait_for_block/profile...
``heated_lid``              set_lid_temperature, deactivate_lid, wait_for_lid
``motorized_lid``           open_lid, close_lid (thermocyclers)
``centrifugation``          spin, start_spin_cycle
``centrifuge_loading``      load, unload (Loader)
``plate_storage``           take_in_plate, fetch_plate_to_loading_tray (incubators)
``pumping``                 run_revolutions, run_continuously, run_for_duration, halt
``volume_dosing``           pump_volume
``weighing``                read_weight, get_weight, tare, zero
``tilting``                 tilt, set_angle
``sealing``                 seal
``peeling``                 peel
``powder_dispensing``       dispense (PowderDispenser)
``barcode_scanning``        scan
``arm_motion``              move_to, approach, home, move_to_safe (SCARA arms)
``ventilation``             turn_on, turn_off (fans)
==========================  =====================================================================

Methods are looked up per machine category first (``dispense`` means pipetting on a liquid handler but
powder dispensing on a powder dispenser), then in the category-independent table.
"""

from __future__ import annotations

_LIQUID_HANDLING = {
    **dict.fromkeys(
        ["pick_up_tips", "drop_tips", "return_tips", "discard_tips", "aspirate", "dispense", "transfer", "move_tips"],
        "pipetting",
    ),
    **dict.fromkeys(
        ["pick_up_tips96", "drop_tips96", "return_tips96", "discard_tips96", "aspirate96", "dispense96", "stamp"],
        "96_head",
    ),
    **dict.fromkeys(
        ["move_plate", "move_lid", "move_resource", "pick_up_resource", "drop_resource", "move_picked_up_resource"],
        "gripper",
    ),
    **dict.fromkeys(
        ["move_channel_x", "move_channel_y", "move_channel_z", "prepare_for_manual_channel_operation"],
        "manual_channel_control",
    ),
    **dict.fromkeys(
        ["probe_tip_presence_via_pickup", "probe_tip_inventory", "consolidate_tip_inventory"], "tip_presence_probing"
    ),
}

BY_CATEGORY: dict[str, dict[str, str]] = {
    "liquid_handling": _LIQUID_HANDLING,
    "plate_reading": {
        "read_absorbance": "absorbance",
        "read_fluorescence": "fluorescence",
        "read_luminescence": "luminescence",
        "capture": "imaging",
    },
    "thermocycling": {
        **dict.fromkeys(
            [
                "run_protocol",
                "run_pcr_profile",
                "set_block_temperature",
                "deactivate_block",
                "wait_for_block",
                "wait_for_profile_completion",
            ],
            "thermocycling",
        ),
        **dict.fromkeys(["set_lid_temperature", "deactivate_lid", "wait_for_lid"], "heated_lid"),
        **dict.fromkeys(["open_lid", "close_lid"], "motorized_lid"),
    },
    "centrifuge": {
        "spin": "centrifugation",
        "start_spin_cycle": "centrifugation",
        "load": "centrifuge_loading",
        "unload": "centrifuge_loading",
    },
    "storage": {"take_in_plate": "plate_storage", "fetch_plate_to_loading_tray": "plate_storage"},
    "pumps": {
        **dict.fromkeys(["run_revolutions", "run_continuously", "run_for_duration", "halt"], "pumping"),
        "pump_volume": "volume_dosing",
    },
    "scales": dict.fromkeys(["read_weight", "get_weight", "tare", "zero"], "weighing"),
    "tilting": dict.fromkeys(["tilt", "set_angle"], "tilting"),
    "sealing": {"seal": "sealing"},
    "peeling": {"peel": "peeling"},
    "powder_dispensing": {"dispense": "powder_dispensing"},
    "barcode_scanners": {"scan": "barcode_scanning"},
    "arms": {
        **dict.fromkeys(["pick_up_resource", "drop_resource", "open_gripper", "close_gripper"], "gripper"),
        **dict.fromkeys(["move_to", "approach", "home", "move_to_safe"], "arm_motion"),
    },
    "only_fans": dict.fromkeys(["turn_on", "turn_off"], "ventilation"),
}

ANY_CATEGORY: dict[str, str] = {
    **dict.fromkeys(["set_temperature", "wait_for_temperature", "deactivate"], "temperature_control"),
    **dict.fromkeys(["shake", "stop_shaking", "start_shaking", "lock_plate", "unlock_plate"], "shaking"),
}

CAPABILITIES: frozenset[str] = frozenset(
    {c for table in BY_CATEGORY.values() for c in table.values()} | set(ANY_CATEGORY.values())
)


def capability_for(category: str | None, method: str) -> str | None:
    """The capability a call of ``method`` on a machine of ``category`` requires, if any."""
    if category is not None:
        found = BY_CATEGORY.get(category, {}).get(method)
        if found is not None:
            return found
    return ANY_CATEGORY.get(method)
