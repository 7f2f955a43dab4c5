"""Needs a heater-shaker, which the simulated bench does not have: the run is rejected, saying why."""

from pylabrobot.heating_shaking import HeaterShaker

from praxis_protocol import protocol


@protocol(name="needs_heater", version="1.0.0", description="warms a plate")
async def needs_heater(hs: HeaterShaker, temperature_c: float = 37.0) -> None:
    await hs.set_temperature(temperature_c)
