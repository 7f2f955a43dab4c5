"""Shared fixtures: builders for benches, runs and requirements, and a controllable clock.

Test modules cannot import each other (``--import-mode=importlib``), so the builders are served by the
``kit`` fixture.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from praxis_contracts.hardware import BenchAnnounced, MachineInfo, ResourceInfo
from praxis_contracts.protocols import AssetRequirement
from praxis_contracts.scheduler import SubmitRun

RES = "pylabrobot.resources.resource.Resource"
MACHINE = "pylabrobot.machines.machine.Machine"
LH = "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
READER = "pylabrobot.plate_reading.plate_reader.PlateReader"
PLATE = "pylabrobot.resources.plate.Plate"
TECAN_PLATE = "pylabrobot.resources.tecan.plates.TecanPlate"
TIPRACK = "pylabrobot.resources.tip_rack.TipRack"


@dataclass
class FakeClock:
    """A clock tests move by hand: lease expiry and aging without sleeping."""

    now: datetime = field(default_factory=lambda: datetime(2030, 1, 7, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


class Kit:
    """Builders for the messages and values the scheduler consumes."""

    LH = LH
    READER = READER
    PLATE = PLATE
    TECAN_PLATE = TECAN_PLATE
    TIPRACK = TIPRACK

    @staticmethod
    def plate(name: str, tecan: bool = False) -> ResourceInfo:
        if tecan:
            return ResourceInfo(name=name, plr_type=TECAN_PLATE, type_chain=[TECAN_PLATE, PLATE, RES], kind="Plate")
        return ResourceInfo(name=name, plr_type=PLATE, type_chain=[PLATE, RES], kind="Plate")

    @staticmethod
    def tips(name: str) -> ResourceInfo:
        return ResourceInfo(name=name, plr_type=TIPRACK, type_chain=[TIPRACK, RES], kind="TipRack")

    @staticmethod
    def liquid_handler(
        name: str,
        *,
        simulated: bool = True,
        capabilities: tuple[str, ...] = ("channels:8",),
        resources: tuple[ResourceInfo, ...] = (),
        status: str = "idle",
    ) -> MachineInfo:
        return MachineInfo(
            name=name,
            frontend=LH,
            frontend_chain=[LH, MACHINE, RES],
            backend="pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend",
            category="liquid_handling",
            simulated=simulated,
            capabilities=list(capabilities),
            resources=list(resources),
            status=status,
        )

    @staticmethod
    def reader(name: str, *, simulated: bool = True, resources: tuple[ResourceInfo, ...] = ()) -> MachineInfo:
        return MachineInfo(
            name=name,
            frontend=READER,
            frontend_chain=[READER, MACHINE, RES],
            backend="pylabrobot.plate_reading.chatterbox.PlateReaderChatterboxBackend",
            category="plate_reading",
            simulated=simulated,
            capabilities=["absorbance"],
            resources=list(resources),
        )

    @staticmethod
    def announce(bench_id: str, *machines: MachineInfo, simulated: bool = True) -> BenchAnnounced:
        return BenchAnnounced(bench_id=bench_id, simulated=simulated, machines=list(machines))

    @staticmethod
    def lh_req(name: str = "lh", *caps: str, optional: bool = False) -> AssetRequirement:
        return AssetRequirement(
            name=name,
            plr_type=LH,
            kind="machine",
            category="liquid_handling",
            capabilities=list(caps),
            optional=optional,
        )

    @staticmethod
    def reader_req(name: str = "reader") -> AssetRequirement:
        return AssetRequirement(name=name, plr_type=READER, kind="machine", capabilities=["absorbance"])

    @staticmethod
    def plate_req(name: str = "plate", optional: bool = False) -> AssetRequirement:
        return AssetRequirement(name=name, plr_type=PLATE, kind="resource", optional=optional)

    @staticmethod
    def submit(
        *requirements: AssetRequirement,
        run_id: str | None = None,
        protocol_id: str = "proto-1",
        **kw: Any,
    ) -> SubmitRun:
        run_id = run_id or uuid.uuid4().hex
        return SubmitRun(
            run_id=run_id,
            protocol_id=protocol_id,
            protocol_name="transfer",
            source_hash="abc",
            function="transfer",
            requirements=list(requirements),
            **kw,
        )


@pytest.fixture
def kit() -> Kit:
    return Kit()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
