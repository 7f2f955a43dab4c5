"""A long, deterministic protocol for crash drills: 2 + 4 x rounds machine calls, each with its own arguments.

Every round moves a different volume to a different well and mixes it, so a replay that went astray (a call
skipped, repeated or reordered) shows up as a divergence instead of passing by accident.
"""

from typing import Annotated

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough

from praxis_protocol import Range, protocol


@protocol(name="chaos_mix", version="1.0.0", description="a long deterministic mix for crash drills")
async def chaos_mix(
    lh: LiquidHandler,
    plate: Plate,
    tips: TipRack,
    trough: Trough,
    rounds: Annotated[int, Range(1, 2000)] = 40,
) -> dict[str, int]:
    await lh.pick_up_tips(tips["A1"])
    for i in range(rounds):
        well = plate[f"{'ABCDEFGH'[i % 8]}{(i // 8) % 12 + 1}"]
        volume = 5.0 + (i % 7)
        await lh.aspirate([trough], vols=[volume])
        await lh.dispense(well, vols=[volume])
        await lh.aspirate(well, vols=[1.0])
        await lh.dispense(well, vols=[1.0])
    await lh.drop_tips(tips["A1"])
    return {"rounds": rounds}
