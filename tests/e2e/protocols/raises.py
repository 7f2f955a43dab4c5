"""A protocol that fails after one machine call: the run must end 'failed' with this traceback."""

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import TipRack

from praxis_protocol import protocol


@protocol(name="raises_after_pickup", version="1.0.0", description="picks up tips, then raises")
async def raises_after_pickup(lh: LiquidHandler, tips: TipRack) -> None:
    await lh.pick_up_tips(tips["A1"])
    raise RuntimeError("calibration drift detected on purpose")
