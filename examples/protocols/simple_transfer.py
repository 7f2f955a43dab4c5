"""Move one volume from a trough into well A1 of a plate with a single channel.

One tip is picked up from the rack's A1, ``volume_ul`` is aspirated from the trough and dispensed into the
plate's A1, and the tip goes back to its spot. On a plate that starts empty, A1 ends with ``volume_ul`` µL and
the trough loses as much. Four machine calls: pick up, aspirate, dispense, drop.
"""

from __future__ import annotations

from typing import Annotated

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough

from praxis_protocol import Range, Unit, protocol


@protocol(name="simple_transfer", version="1.0.0", description="One transfer from a trough to a well")
async def simple_transfer(
    lh: LiquidHandler,
    tips: TipRack,
    trough: Trough,
    plate: Plate,
    volume_ul: Annotated[float, Range(1, 300), Unit("uL")] = 50.0,
) -> dict[str, float]:
    await lh.pick_up_tips([tips.get_item("A1")], use_channels=[0])
    await lh.aspirate([trough], vols=[volume_ul], use_channels=[0])
    await lh.dispense([plate.get_item("A1")], vols=[volume_ul], use_channels=[0])
    await lh.drop_tips([tips.get_item("A1")], use_channels=[0])
    return {"A1": plate.get_item("A1").tracker.get_used_volume()}
