"""The worker's run path end to end, with the benches in this process (BenchRuntime.perform behind a JSON
round trip): the example protocols, journaling, failures, cancel and pause."""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from praxis_contracts.hardware import BenchDescription
from praxis_contracts.runs import AssetAssignment, Assignment
from praxis_executor.worker.assets import AssetError
from praxis_executor.worker.control import RunCancelled, RunControl
from praxis_executor.worker.journal import CallRecord, MemoryJournal
from praxis_executor.worker.proxy import MachineCallError
from praxis_executor.worker.runner import run_protocol
from praxis_hardware_agent.adapters.inprocess import InProcessBenchTransport
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime

ROOT = Path(__file__).resolve().parents[3]
SIM_BENCH = ROOT / "deploy" / "benches" / "sim-bench.yaml"
EXAMPLES = ROOT / "examples" / "protocols"
BENCH = "sim-bench-1"
TROUGH_START = 150_000.0


def asset(requirement: str, machine: str, resource: str | None = None, bench: str = BENCH) -> AssetAssignment:
    kind = "machine" if resource is None else "resource"
    return AssetAssignment(requirement=requirement, kind=kind, bench_id=bench, machine=machine, resource=resource)


LH_ASSETS = Assignment(
    assets=[
        asset("lh", "lh"),
        asset("plate", "lh", "plate_02"),
        asset("tips", "lh", "tips_01"),
        asset("trough", "lh", "trough_01"),
    ]
)


class HookJournal(MemoryJournal):
    """Keeps entries and runs ``hook(entries)`` after each one (to cancel or pause mid-run)."""

    def __init__(self, hook: Callable[[list[CallRecord]], None] | None = None) -> None:
        super().__init__()
        self.hook = hook

    async def record(self, entry: CallRecord) -> None:
        await super().record(entry)
        if self.hook is not None:
            self.hook(self.entries)


@pytest.fixture(scope="module")
async def bench() -> AsyncIterator[InProcessBenchTransport]:
    transport = await InProcessBenchTransport.start([SIM_BENCH])
    yield transport
    await transport.close()


@pytest.fixture(scope="module")
async def benches(bench: InProcessBenchTransport) -> dict[str, BenchDescription]:
    return {BENCH: await bench.describe(BENCH)}


@pytest.fixture
def runtime(bench: InProcessBenchTransport) -> BenchRuntime:
    return bench.runtimes[BENCH]


@pytest.fixture
def run_id(request: pytest.FixtureRequest) -> str:
    return f"run-{request.node.name}"


async def run(
    bench: InProcessBenchTransport,
    benches: dict[str, BenchDescription],
    run_id: str,
    *,
    source: str | None = None,
    example: str | None = None,
    function: str | None = None,
    parameters: dict[str, Any] | None = None,
    assignment: Assignment = LH_ASSETS,
    control: RunControl | None = None,
    journal: MemoryJournal | None = None,
) -> dict[str, Any]:
    if example is not None:
        source = (EXAMPLES / f"{example}.py").read_text()
    assert source is not None
    return await run_protocol(
        source,
        function or example or "protocol",
        parameters or {},
        assignment,
        benches,
        bench,
        control or RunControl(),
        journal if journal is not None else MemoryJournal(),
        run_id=run_id,
        filename=f"{example or 'inline'}.py",
    )


def dilution_volumes(volume: float, columns: int) -> dict[str, float]:
    """What a 2-fold dilution from an empty plate implies: V in 1..N-1, 2V in N, nothing beyond."""
    out = {}
    for c in range(1, 13):
        for row in "ABCDEFGH":
            out[f"{row}{c}"] = 0.0 if c > columns else (2 * volume if c == columns else volume)
    return out


class TestSerialDilution:
    async def test_runs_end_to_end_with_its_defaults(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        journal = MemoryJournal()
        outputs = await run(bench, benches, run_id, example="serial_dilution", journal=journal)

        assert outputs["well_volumes"]["plate_02"] == dilution_volumes(100.0, 8)
        assert outputs["well_volumes"]["trough_01"] == {"trough_01": TROUGH_START - 8 * 9 * 100.0}
        assert outputs["result"]["dilution_factors"] == [1, 2, 4, 8, 16, 32, 64, 128]
        json.dumps(outputs, allow_nan=False)

        methods = [e.method for e in journal.entries]
        assert [e.sequence for e in journal.entries] == list(range(1, 33))
        assert methods == ["pick_up_tips"] + ["aspirate", "dispense"] * 15 + ["drop_tips"]
        assert all(e.ok and e.bench_id == BENCH and e.machine == "lh" for e in journal.entries)

    async def test_every_aspirate_and_dispense_is_journaled_with_its_volumes(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        journal = MemoryJournal()
        await run(
            bench,
            benches,
            run_id,
            example="serial_dilution",
            journal=journal,
            parameters={"volume_ul": 50.0, "columns": 4},
        )
        liquid = [e for e in journal.entries if e.method in ("aspirate", "dispense")]
        assert len(liquid) == 2 * (4 + 3)
        expected = [100.0] * 2 + [50.0] * 12  # column 1 gets 2V, then V for every step
        assert [e.summary["volumes"] for e in liquid] == [[v] * 8 for v in expected]
        for entry in liquid:  # the faithful args carry the same volumes
            assert [op["fields"]["volume"] for op in entry.args["ops"]] == entry.summary["volumes"]

        first_aspirate, first_dispense = liquid[0], liquid[1]
        assert first_aspirate.state_diff["volumes"] == {
            "trough_01": {"before": TROUGH_START, "after": TROUGH_START - 8 * 100.0}
        }
        assert first_dispense.state_diff["volumes"]["plate_02_well_A1"] == {"before": 0.0, "after": 100.0}
        transfer = liquid[-1]  # column 3 -> column 4
        assert transfer.state_diff["volumes"]["plate_02_well_H4"] == {"before": 50.0, "after": 100.0}

        pick_up = journal.entries[0]
        assert pick_up.state_diff["tips"]["tips_01_tipspot_A1"] == {"before": True, "after": False}
        drop = journal.entries[-1]
        assert drop.state_diff["tips"]["tips_01_tipspot_H1"] == {"before": False, "after": True}

    async def test_the_bench_mirrors_the_run_only_while_it_runs(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], runtime: BenchRuntime, run_id: str
    ) -> None:
        seen: list[list[str]] = []
        journal = HookJournal(lambda entries: seen.append(runtime.run_ids()))
        await run(bench, benches, run_id, example="serial_dilution", journal=journal, parameters={"columns": 2})
        assert all(run_id in ids for ids in seen)
        assert run_id not in runtime.run_ids()

    async def test_unknown_parameters_are_refused_before_any_call(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        journal = MemoryJournal()
        with pytest.raises(AssetError, match="colums"):
            await run(bench, benches, run_id, example="serial_dilution", journal=journal, parameters={"colums": 3})
        assert journal.entries == []


class TestOtherExamples:
    async def test_simple_transfer(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        assignment = Assignment(
            assets=[
                asset("lh", "lh"),
                asset("tips", "lh", "tips_02"),
                asset("trough", "lh", "trough_01"),
                asset("plate", "lh", "plate_01"),
            ]
        )
        journal = MemoryJournal()
        outputs = await run(bench, benches, run_id, example="simple_transfer", assignment=assignment, journal=journal)
        assert outputs["result"] == {"A1": 50.0}
        assert outputs["well_volumes"]["plate_01"]["A1"] == 50.0
        assert [e.method for e in journal.entries] == ["pick_up_tips", "aspirate", "dispense", "drop_tips"]

    async def test_absorbance_assay_returns_the_readers_data(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        journal = MemoryJournal()
        outputs = await run(
            bench,
            benches,
            run_id,
            example="absorbance_assay",
            assignment=Assignment(assets=[asset("reader", "reader")]),
            journal=journal,
        )
        result = outputs["result"]
        assert result["plate"] == "read_plate_01" and result["wavelength"] == 450
        (read,) = result["absorbance"]
        assert read["wavelength"] == 450
        assert read["data"] == [[0.0] * 12 for _ in range(8)]
        json.dumps(outputs, allow_nan=False)  # the chatterbox's NaN temperature became null
        ((entry),) = journal.entries
        assert entry.method == "read_absorbance" and entry.machine == "reader"
        assert entry.args["plate"] == {"$resource": "read_plate_01"} and entry.args["wavelength"] == 450


FAILING = """
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import TipRack

async def protocol(lh: LiquidHandler, tips: TipRack):
    await lh.pick_up_tips([tips.get_item("A1")])
    raise ValueError("the protocol gave up")
"""

HANDLES_ERRORS = """
from pylabrobot.liquid_handling import LiquidHandler

async def protocol(lh: LiquidHandler):
    try:
        await lh.move_channel_x(0, 100.0)
    except NotImplementedError as exc:
        return {"fallback": type(exc).__name__}
"""

ASPIRATES = """
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import TipRack, Trough

async def protocol(lh: LiquidHandler, tips: TipRack, trough: Trough):
    await lh.pick_up_tips([tips.get_item("A1")])
    await lh.aspirate([trough], vols=[100.0])
"""


class TestFailures:
    async def test_a_protocol_that_raises_gives_its_exception(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], runtime: BenchRuntime, run_id: str
    ) -> None:
        journal = MemoryJournal()
        assignment = Assignment(assets=[asset("lh", "lh"), asset("tips", "lh", "tips_01")])
        with pytest.raises(ValueError, match="the protocol gave up") as err:
            await run(bench, benches, run_id, source=FAILING, assignment=assignment, journal=journal)
        text = "".join(traceback.format_exception(err.value))
        assert 'raise ValueError("the protocol gave up")' in text and "inline.py" in text
        assert [e.method for e in journal.entries] == ["pick_up_tips"]
        assert run_id not in runtime.run_ids()

    async def test_a_device_error_is_raised_in_the_protocol_and_rolls_back_the_trackers(
        self,
        bench: InProcessBenchTransport,
        benches: dict[str, BenchDescription],
        runtime: BenchRuntime,
        run_id: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def pressure_fault(**kwargs: Any) -> None:
            raise RuntimeError("pressure fault on channel 0")

        monkeypatch.setattr(runtime.machines["lh"].backend, "aspirate", pressure_fault)
        journal = MemoryJournal()
        assignment = Assignment(
            assets=[asset("lh", "lh"), asset("tips", "lh", "tips_01"), asset("trough", "lh", "trough_01")]
        )
        with pytest.raises(MachineCallError) as err:
            await run(bench, benches, run_id, source=ASPIRATES, assignment=assignment, journal=journal)
        assert (err.value.error_type, err.value.method, err.value.sequence) == ("RuntimeError", "aspirate", 2)
        assert "pressure fault" in str(err.value)
        failed = journal.entries[-1]
        assert not failed.ok and failed.error_type == "RuntimeError"
        assert failed.state_diff["volumes"]["trough_01"] == {"before": TROUGH_START, "after": TROUGH_START}

    async def test_a_remote_not_implemented_error_can_be_caught_as_one(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        journal = MemoryJournal()
        outputs = await run(
            bench,
            benches,
            run_id,
            source=HANDLES_ERRORS,
            assignment=Assignment(assets=[asset("lh", "lh")]),
            journal=journal,
        )
        assert outputs["result"] == {"fallback": "MachineCallNotImplemented"}
        assert journal.entries[0].error_type == "NotImplementedError"


class TestControl:
    async def test_cancel_takes_effect_before_the_next_call(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], runtime: BenchRuntime, run_id: str
    ) -> None:
        control = RunControl()
        journal = HookJournal(lambda entries: control.cancel("user asked") if len(entries) == 3 else None)
        with pytest.raises(RunCancelled, match="user asked"):
            await run(bench, benches, run_id, example="serial_dilution", control=control, journal=journal)
        assert [e.sequence for e in journal.entries] == [1, 2, 3]
        assert run_id not in runtime.run_ids()

    async def test_a_run_cancelled_before_it_starts_makes_no_call(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        control = RunControl()
        control.cancel()
        journal = MemoryJournal()
        with pytest.raises(RunCancelled):
            await run(bench, benches, run_id, example="serial_dilution", control=control, journal=journal)
        assert journal.entries == []

    async def test_pause_holds_the_next_call_until_resume(
        self, bench: InProcessBenchTransport, benches: dict[str, BenchDescription], run_id: str
    ) -> None:
        paused = asyncio.Event()
        control = RunControl(on_pause=paused.set)
        journal = HookJournal(lambda entries: control.pause() if len(entries) == 2 else None)
        task = asyncio.ensure_future(
            run(
                bench,
                benches,
                run_id,
                example="serial_dilution",
                control=control,
                journal=journal,
                parameters={"columns": 2},
            )
        )
        await asyncio.wait_for(paused.wait(), timeout=30)
        assert len(journal.entries) == 2 and not task.done()
        control.resume()
        outputs = await asyncio.wait_for(task, timeout=30)
        assert len(journal.entries) == 8 and outputs["well_volumes"]["plate_02"]["A2"] == 200.0


SHAKE = """
from pylabrobot.heating_shaking import HeaterShaker
from pylabrobot.temperature_controlling import TemperatureController

async def protocol(hs: HeaterShaker, cooler: TemperatureController, celsius: float = 37.0):
    await hs.set_temperature(celsius)
    await hs.shake(speed=500, duration=0.01)
    await cooler.set_temperature(4.0)
    return {"hs": await hs.get_temperature(), "cooler": await cooler.get_temperature()}
"""

SHAKER_BENCH = """
bench_id: shaker-bench
machines:
  - name: hs
    frontend: pylabrobot.heating_shaking.HeaterShaker
    backend: pylabrobot.heating_shaking.HeaterShakerChatterboxBackend
    frontend_kwargs: {size_x: 100, size_y: 100, size_z: 50, child_location: {x: 0, y: 0, z: 50}}
  - name: cooler
    frontend: pylabrobot.temperature_controlling.TemperatureController
    backend: pylabrobot.temperature_controlling.TemperatureControllerChatterboxBackend
    backend_kwargs: {dummy_temperature: 4.0}
    frontend_kwargs: {size_x: 100, size_y: 100, size_z: 50, child_location: {x: 0, y: 0, z: 50}}
"""


async def test_other_machine_kinds_go_through_generated_proxies(tmp_path: Path) -> None:
    config = tmp_path / "shaker-bench.yaml"
    config.write_text(SHAKER_BENCH)
    bench = await InProcessBenchTransport.start([config])
    try:
        benches = {"shaker-bench": await bench.describe("shaker-bench")}
        journal = MemoryJournal()
        assignment = Assignment(
            assets=[asset("hs", "hs", bench="shaker-bench"), asset("cooler", "cooler", bench="shaker-bench")]
        )
        outputs = await run(bench, benches, "run-shake", source=SHAKE, assignment=assignment, journal=journal)
    finally:
        await bench.close()
    assert outputs["result"] == {"hs": 37.0, "cooler": 4.0}
    methods = [(e.machine, e.method) for e in journal.entries]
    assert methods[:4] == [
        ("hs", "get_current_temperature"),
        ("hs", "set_temperature"),
        ("hs", "lock_plate"),  # the frontend asked supports_locking, which the agent reported
        ("hs", "start_shaking"),
    ]
    assert ("cooler", "set_temperature") in methods
    assert journal.entries[1].args == {"temperature": 37.0}
    assert ("hs", "deactivate") in methods[-4:]  # the frontend's stop() switched the heater off, journaled
