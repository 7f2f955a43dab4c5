"""Not deterministic on purpose: volumes come from os.urandom, so a replay cannot repeat the same calls."""

import os
from typing import Annotated

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough

from praxis_protocol import Range, protocol


@protocol(name="nondeterministic", version="1.0.0", description="volumes drawn from the OS's randomness")
async def nondeterministic(
    lh: LiquidHandler,
    plate: Plate,
    tips: TipRack,
    trough: Trough,
    cycles: Annotated[int, Range(1, 10000)] = 300,
) -> None:
    await lh.pick_up_tips(tips["A1"])
    for _ in range(cycles):
        volume = 1.0 + os.urandom(1)[0] % 50
        await lh.aspirate([trough], vols=[volume])
        await lh.dispense([trough], vols=[volume])  # back where it came from: the trough never runs dry
    await lh.drop_tips(tips["A1"])
