"""Returns about 9 MB: more than a NATS message may carry, so the outputs must travel apart from the events."""

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import TipRack

from praxis_protocol import protocol


@protocol(name="big_result", version="1.0.0", description="a large return value")
async def big_result(lh: LiquidHandler, tips: TipRack) -> dict[str, object]:
    await lh.pick_up_tips(tips["A1"])
    await lh.drop_tips(tips["A1"])
    return {"readings": [round(i * 0.001, 3) for i in range(1_000_000)]}
