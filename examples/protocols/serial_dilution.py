"""2-fold serial dilution across every row of a plate, with liquid from a trough.

Steps, with V = ``volume_ul`` and N = ``columns``, all 8 rows at once on 8 channels with one column of tips:

1. column 1 gets 2·V and columns 2..N get V each, from the trough;
2. V moves from column c to column c+1 for c = 1..N-1 (the transfers mix as they go);
3. the tips go back to their rack.

The material in column 1 is halved at each step, so column c holds 1/2^(c-1) of column 1's concentration.
Final volumes (µL) on a plate that starts empty (otherwise add each well's start volume), per row A-H:

- columns 1..N-1: V
- column N: 2·V (nothing is taken out of the last column: it keeps twice the volume, at the lowest concentration)
- columns N+1..12: 0
- trough: its start volume - 8·(N+1)·V

With the defaults (V = 100, N = 8) that is 100 µL in A1:H7, 200 µL in A8:H8, and 7,200 µL from the trough.
Machine calls: 1 tip pick-up, N aspirate/dispense pairs to fill, N-1 pairs to transfer, 1 drop: 4·N in all.
"""

from __future__ import annotations

from typing import Annotated

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough, Well

from praxis_protocol import Description, Range, Unit, protocol


@protocol(name="serial_dilution", version="1.0.0", description="2-fold dilution across a row")
async def serial_dilution(
    lh: LiquidHandler,
    plate: Plate,
    tips: TipRack,
    trough: Trough,
    volume_ul: Annotated[float, Range(1, 180), Unit("uL"), Description("volume moved per step")] = 100.0,
    columns: Annotated[int, Range(2, 12), Description("how many columns the dilution spans")] = 8,
) -> dict[str, object]:
    if not 2 <= columns <= plate.num_items_x:
        raise ValueError(f"columns must be between 2 and {plate.num_items_x}, not {columns}")
    rows = plate.num_items_y
    channels = list(range(rows))

    def column(c: int) -> list[Well]:
        return plate.get_items(f"A{c}:{chr(ord('A') + rows - 1)}{c}")

    await lh.pick_up_tips(tips.get_items(f"A1:{chr(ord('A') + rows - 1)}1"), use_channels=channels)
    for c in range(1, columns + 1):
        fill = 2 * volume_ul if c == 1 else volume_ul
        await lh.aspirate([trough] * rows, vols=[fill] * rows, use_channels=channels)
        await lh.dispense(column(c), vols=[fill] * rows, use_channels=channels)
    for c in range(1, columns):
        await lh.aspirate(column(c), vols=[volume_ul] * rows, use_channels=channels)
        await lh.dispense(column(c + 1), vols=[volume_ul] * rows, use_channels=channels)
    await lh.drop_tips(tips.get_items(f"A1:{chr(ord('A') + rows - 1)}1"), use_channels=channels)
    return {"columns": columns, "volume_ul": volume_ul, "dilution_factors": [2**c for c in range(columns)]}
