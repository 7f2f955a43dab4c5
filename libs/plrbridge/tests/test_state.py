"""Deck state (volumes, tips) survives the trip that PLR's serialize()/deserialize() does not make."""

from __future__ import annotations

import json

from pylabrobot.heating_shaking import HeaterShaker, HeaterShakerChatterboxBackend
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.backends.backend import LiquidHandlerBackend
from pylabrobot.plate_reading import PlateReader
from pylabrobot.plate_reading.backend import PlateReaderBackend
from pylabrobot.resources import Coordinate, Deck, Plate, TipRack

from praxis_plrbridge.interface import backend_interface, backend_properties, forwardable_methods
from praxis_plrbridge.state import apply_state, capture_state, plr_json


def test_a_deserialized_deck_gets_the_volumes_and_tips_back(deck: Deck) -> None:
    plate, tips = deck.get_resource("plate_02"), deck.get_resource("tips_01")
    assert isinstance(plate, Plate) and isinstance(tips, TipRack)
    plate.get_item("C4").tracker.set_volume(42.0)
    tips.get_item("A1").tracker.remove_tip(commit=True)

    state = json.loads(json.dumps(capture_state(deck)))
    copy = Deck.deserialize(plr_json(deck.serialize()))
    apply_state(copy, state)

    assert copy.get_resource("plate_02_well_C4").tracker.get_used_volume() == 42.0
    assert copy.get_resource("trough_01").tracker.get_used_volume() == 150_000
    assert not copy.get_resource("tips_01_tipspot_A1").tracker.has_tip
    assert copy.get_resource("tips_01_tipspot_B1").tracker.has_tip
    assert capture_state(copy) == state


def test_state_lists_only_what_is_not_empty(deck: Deck) -> None:
    state = capture_state(deck)
    assert state["volumes"] == {"trough_01": 150_000.0}
    assert len(state["tips"]) == 2 * 96


def test_backend_interfaces_and_properties(lh: LiquidHandler) -> None:
    assert backend_interface(LiquidHandler) is LiquidHandlerBackend
    assert backend_interface(PlateReader) is PlateReaderBackend
    assert "read_absorbance" in forwardable_methods(PlateReaderBackend)
    assert "setup" not in forwardable_methods(PlateReaderBackend)
    assert backend_properties(lh) == {"head96_installed": True, "num_arms": 1, "num_channels": 8}


def test_abstract_properties_of_other_backends_are_reported() -> None:
    hs = HeaterShaker(
        name="hs",
        size_x=1,
        size_y=1,
        size_z=1,
        backend=HeaterShakerChatterboxBackend(),
        child_location=Coordinate.zero(),
    )
    props = backend_properties(hs)
    assert set(props) == {"supports_active_cooling", "supports_locking"}
    assert all(isinstance(v, bool) for v in props.values())
