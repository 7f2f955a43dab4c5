"""A long protocol (many machine calls) for cancelling mid-run: fill one well from the trough, then mix it."""

from typing import Annotated

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough

from praxis_protocol import Range, protocol


@protocol(name="long_mix", version="1.0.0", description="mixes one well many times")
async def long_mix(
    lh: LiquidHandler,
    plate: Plate,
    tips: TipRack,
    trough: Trough,
    cycles: Annotated[int, Range(1, 10000)] = 2000,
) -> None:
    await lh.pick_up_tips(tips["A1"])
    await lh.aspirate([trough], vols=[50.0])
    await lh.dispense(plate["A1"], vols=[50.0])
    for _ in range(cycles):
        await lh.aspirate(plate["A1"], vols=[1.0])
        await lh.dispense(plate["A1"], vols=[1.0])
    await lh.drop_tips(tips["A1"])
