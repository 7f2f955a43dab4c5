"""Every argument a liquid-handler backend receives survives encode -> JSON -> decode as the same object kind."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pylabrobot.liquid_handling.standard import (
    Drop,
    DropTipRack,
    GripDirection,
    Mix,
    MultiHeadAspirationContainer,
    MultiHeadAspirationPlate,
    MultiHeadDispenseContainer,
    MultiHeadDispensePlate,
    Pickup,
    PickupTipRack,
    ResourceDrop,
    ResourceMove,
    ResourcePickup,
    SingleChannelAspiration,
    SingleChannelDispense,
)
from pylabrobot.resources import Coordinate, Deck, Plate, Resource, Rotation, TipRack, Trough

from praxis_plrbridge.codec import CodecError, decode, decode_kwargs, encode, encode_kwargs


def wire(value: Any, deck: Deck, *, lenient: bool = False) -> Any:
    """Encode, pass through JSON text (as NATS would), decode against ``deck``."""
    return decode(json.loads(json.dumps(encode(value, lenient=lenient), allow_nan=False)), deck.get_resource)


def parts(deck: Deck) -> tuple[Plate, TipRack, Trough]:
    plate, tips, trough = deck.get_resource("plate_01"), deck.get_resource("tips_01"), deck.get_resource("trough_01")
    assert isinstance(plate, Plate) and isinstance(tips, TipRack) and isinstance(trough, Trough)
    return plate, tips, trough


def all_ops(deck: Deck) -> dict[str, Any]:
    plate, tips, trough = parts(deck)
    spot, well = tips.get_item("A1"), plate.get_item("B2")
    tip = spot.get_tip()
    mix = Mix(volume=20.0, repetitions=3, flow_rate=100.0)
    head96 = dict(
        offset=Coordinate(0, 0, 1),
        tips=[tip] * 96,
        volume=50.0,
        flow_rate=None,
        liquid_height=1.5,
        blow_out_air_volume=None,
        mix=None,
    )
    return {
        "Pickup": Pickup(resource=spot, offset=Coordinate.zero(), tip=tip),
        "Drop": Drop(resource=spot, offset=Coordinate(0, 0, 2), tip=tip),
        "SingleChannelAspiration": SingleChannelAspiration(
            resource=well,
            offset=Coordinate.zero(),
            tip=tip,
            volume=100.0,
            flow_rate=50.0,
            liquid_height=None,
            blow_out_air_volume=10.0,
            mix=mix,
        ),
        "SingleChannelDispense": SingleChannelDispense(
            resource=trough,
            offset=Coordinate(0, 9, 0),
            tip=tip,
            volume=100.0,
            flow_rate=None,
            liquid_height=2.0,
            blow_out_air_volume=None,
            mix=None,
        ),
        "PickupTipRack": PickupTipRack(resource=tips, offset=Coordinate.zero(), tips=[tip, None] * 48),
        "DropTipRack": DropTipRack(resource=tips, offset=Coordinate(1, 2, 3)),
        "MultiHeadAspirationPlate": MultiHeadAspirationPlate(wells=plate.get_all_items(), **head96),
        "MultiHeadDispensePlate": MultiHeadDispensePlate(wells=plate.get_all_items(), **head96),
        "MultiHeadAspirationContainer": MultiHeadAspirationContainer(container=trough, **head96),
        "MultiHeadDispenseContainer": MultiHeadDispenseContainer(container=trough, **head96),
        "ResourcePickup": ResourcePickup(
            resource=plate, offset=Coordinate.zero(), pickup_distance_from_top=13.2, direction=GripDirection.FRONT
        ),
        "ResourceMove": ResourceMove(
            resource=plate,
            location=Coordinate(100, 200, 300),
            gripped_direction=GripDirection.LEFT,
            pickup_distance_from_top=13.2,
            offset=Coordinate.zero(),
        ),
        "ResourceDrop": ResourceDrop(
            resource=plate,
            destination=Coordinate(10, 20, 30),
            destination_absolute_rotation=Rotation(z=90),
            offset=Coordinate.zero(),
            pickup_distance_from_top=13.2,
            pickup_direction=GripDirection.FRONT,
            direction=GripDirection.RIGHT,
            rotation=90.0,
        ),
    }


OP_NAMES = [
    "Pickup",
    "Drop",
    "SingleChannelAspiration",
    "SingleChannelDispense",
    "PickupTipRack",
    "DropTipRack",
    "MultiHeadAspirationPlate",
    "MultiHeadDispensePlate",
    "MultiHeadAspirationContainer",
    "MultiHeadDispenseContainer",
    "ResourcePickup",
    "ResourceMove",
    "ResourceDrop",
]


class TestOps:
    @pytest.mark.parametrize("name", OP_NAMES)
    def test_op_round_trips_to_an_equal_op_on_the_same_deck(self, shared_deck: Deck, name: str) -> None:
        op = all_ops(shared_deck)[name]
        back = wire(op, shared_deck)
        assert type(back) is type(op)
        assert encode(back) == encode(op)  # field by field, resources by name
        if name != "ResourceDrop":  # PLR's Rotation has no __eq__, so only the encoded forms compare
            assert back == op

    @pytest.mark.parametrize("name", OP_NAMES)
    def test_op_decodes_onto_a_mirror_deck_with_the_mirrors_resources(
        self, shared_deck: Deck, mirror_deck: Deck, name: str
    ) -> None:
        mirror = mirror_deck
        op = all_ops(shared_deck)[name]
        back = wire(op, mirror)
        for field in ("resource", "container"):
            if hasattr(op, field):
                assert getattr(back, field) is mirror.get_resource(getattr(op, field).name)
        if hasattr(op, "wells"):
            assert [w.name for w in back.wells] == [w.name for w in op.wells]
            assert all(w is mirror.get_resource(w.name) for w in back.wells)

    def test_the_backend_call_shape_round_trips(self, shared_deck: Deck) -> None:
        ops = all_ops(shared_deck)
        kwargs = {"ops": [ops["SingleChannelAspiration"], ops["SingleChannelAspiration"]], "use_channels": [0, 1]}
        encoded = encode_kwargs(kwargs)
        assert json.loads(json.dumps(encoded)) == encoded
        assert decode_kwargs(encoded, shared_deck.get_resource) == kwargs

    def test_resources_travel_by_name_only(self, shared_deck: Deck) -> None:
        well = parts(shared_deck)[0].get_item("A1")
        assert encode(well) == {"$resource": "plate_01_well_A1"}


class TestValues:
    def test_coordinate(self, shared_deck: Deck) -> None:
        back = wire(Coordinate(1.5, -2, 3), shared_deck)
        assert isinstance(back, Coordinate) and back == Coordinate(1.5, -2, 3)

    def test_rotation(self, shared_deck: Deck) -> None:
        back = wire(Rotation(x=0, y=10, z=90), shared_deck)
        assert isinstance(back, Rotation) and (back.x, back.y, back.z) == (0, 10, 90)

    def test_tip_keeps_its_subclass_and_fields(self, shared_deck: Deck) -> None:
        tip = parts(shared_deck)[1].get_item("C3").get_tip()
        back = wire(tip, shared_deck)
        assert type(back) is type(tip) and back == tip

    def test_enum(self, shared_deck: Deck) -> None:
        assert wire(GripDirection.BACK, shared_deck) is GripDirection.BACK

    def test_nested_lists_dicts_tuples(self, shared_deck: Deck) -> None:
        well = parts(shared_deck)[0].get_item("A1")
        value = {"a": [1, 2.5, None, [well, (3, "x")]], "b": {"c": True}, "t": (Coordinate(1, 2, 3), [])}
        assert wire(value, shared_deck) == value

    def test_dicts_with_non_string_or_dollar_keys(self, shared_deck: Deck) -> None:
        value = {0: "a", 1: [1]}, {"$resource": "not a tag"}
        assert wire(value, shared_deck) == value

    def test_non_finite_floats(self, shared_deck: Deck) -> None:
        back = wire([math.inf, -math.inf, math.nan], shared_deck)
        assert back[0] == math.inf and back[1] == -math.inf and math.isnan(back[2])


class TestRefusals:
    def test_unknown_objects_do_not_encode(self) -> None:
        with pytest.raises(CodecError, match="cannot encode"):
            encode(object())

    def test_lenient_encoding_keeps_a_repr(self, shared_deck: Deck) -> None:
        assert wire(object, shared_deck, lenient=True) == repr(object)

    def test_a_dataclass_outside_pylabrobot_is_refused(self) -> None:
        with pytest.raises(CodecError, match="outside the allowed packages"):
            decode({"$dataclass": "subprocess.CompletedProcess", "fields": {}})

    def test_an_enum_outside_pylabrobot_is_refused(self) -> None:
        with pytest.raises(CodecError):
            decode({"$enum": "os.EX_OK", "name": "X"})

    def test_resources_and_backends_cannot_be_built_from_a_message(self) -> None:
        plate = Resource(name="p", size_x=1, size_y=1, size_z=1)
        with pytest.raises(CodecError, match="by name"):
            decode({"$plr": plate.serialize()})
        with pytest.raises(CodecError):
            decode({"$plr": {"type": "LiquidHandlerChatterboxBackend", "num_channels": 8}})

    def test_resources_need_a_resolver(self) -> None:
        with pytest.raises(CodecError, match="without a deck"):
            decode({"$resource": "plate_01"})

    def test_unknown_tags_are_errors(self) -> None:
        with pytest.raises(CodecError, match="unknown codec tag"):
            decode({"$nope": 1})
