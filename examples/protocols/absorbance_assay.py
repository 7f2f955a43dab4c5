"""Read the absorbance of the plate that sits in a plate reader.

On the simulated bench the reader holds ``read_plate_01`` from the start (moving a plate into the reader is a
gripper step of its own, outside this example). The result is PLR's new return type: one entry per
measurement with ``wavelength``, ``time``, ``temperature`` and ``data`` (8 rows x 12 columns of absorbance;
the chatterbox reads 0.0 everywhere). One machine call: ``read_absorbance``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pylabrobot.plate_reading import PlateReader

from praxis_protocol import DataView, Range, Unit, protocol


@protocol(
    name="absorbance_assay",
    version="1.0.0",
    description="Absorbance of the plate in the reader",
    data_views=[DataView(name="absorbance", kind="plate_heatmap", description="OD per well")],
)
async def absorbance_assay(
    reader: PlateReader,
    wavelength: Annotated[int, Range(230, 1000), Unit("nm")] = 450,
) -> dict[str, Any]:
    plate = reader.get_plate()
    reads = await reader.read_absorbance(wavelength=wavelength, use_new_return_type=True)
    return {"plate": plate.name, "wavelength": wavelength, "absorbance": reads}
