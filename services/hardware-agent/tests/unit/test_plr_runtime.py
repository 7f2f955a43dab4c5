"""BenchRuntime on the simulated bench: calls performed once, refused when they must be, never raised."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.liquid_handling.standard import Pickup, SingleChannelAspiration
from pylabrobot.plate_reading import PlateReader, PlateReaderChatterboxBackend
from pylabrobot.resources import Coordinate, Deck, TipSpot, cor_96_wellplate_360uL_Fb

from praxis_contracts.hardware import CallRefusal, EndRun, LoadRunDeck, MachineCall
from praxis_hardware_agent.adapters.inprocess import InProcessBenchTransport
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_plrbridge.bench_config import BenchConfigError, build_bench, parse_bench_config
from praxis_plrbridge.codec import encode_kwargs
from praxis_plrbridge.state import PRAXIS_KEY, plr_json

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"
BENCH = "sim-bench-1"


@pytest.fixture
async def runtime() -> AsyncIterator[BenchRuntime]:
    """The simulated bench with an in-memory call record; runs ``run-1`` and ``run-2`` have their decks loaded
    (on the bench's own labware), as a worker does before its first call."""
    rt = BenchRuntime.from_file(SIM_BENCH)
    await rt.setup()
    for run in ("run-1", "run-2"):
        assert (await rt.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id=run))).ok
    yield rt
    await rt.stop()


class Spy:
    """Stands in for one backend method: counts calls, can block or raise."""

    def __init__(self, *, raises: Exception | None = None, gate: asyncio.Event | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.raises, self.gate = raises, gate
        self.entered = asyncio.Event()

    async def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.raises is not None:
            raise self.raises
        return "done"


def lh_of(rt: BenchRuntime) -> LiquidHandler:
    lh = rt.machines["lh"]
    assert isinstance(lh, LiquidHandler)
    return lh


def spy_on(rt: BenchRuntime, method: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Spy:
    spy = Spy(**kwargs)

    async def method_spy(**call_kwargs: Any) -> str:  # a real coroutine function, as backend methods are
        return await spy(**call_kwargs)

    monkeypatch.setattr(lh_of(rt).backend, method, method_spy)
    return spy


def pickup_call(
    rt: BenchRuntime, sequence: int, *, run_id: str = "run-1", spot: str = "tips_01_tipspot_A1"
) -> MachineCall:
    tip_spot = lh_of(rt).deck.get_resource(spot)
    assert isinstance(tip_spot, TipSpot)
    ops = [Pickup(resource=tip_spot, offset=Coordinate.zero(), tip=tip_spot.get_tip())]
    args = encode_kwargs({"ops": ops, "use_channels": [0]})
    return MachineCall(bench_id=BENCH, run_id=run_id, sequence=sequence, machine="lh", method="pick_up_tips", args=args)


def call(method: str, *, machine: str = "lh", bench_id: str = BENCH, sequence: int = 1, **args: Any) -> MachineCall:
    return MachineCall(bench_id=bench_id, run_id="run-1", sequence=sequence, machine=machine, method=method, args=args)


class TestPerform:
    async def test_performs_a_call_on_the_backend(self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
        spy = spy_on(runtime, "pick_up_tips", monkeypatch)
        result = await runtime.perform(pickup_call(runtime, 1))
        assert result.ok and result.result == "done" and not result.replayed
        (kwargs,) = spy.calls
        assert kwargs["use_channels"] == [0]
        assert kwargs["ops"][0].resource is lh_of(runtime).deck.get_resource("tips_01_tipspot_A1")

    async def test_a_real_chatterbox_call_prints_nothing_on_stdout(
        self, runtime: BenchRuntime, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        result = await runtime.perform(pickup_call(runtime, 1))
        assert result.ok
        assert capsys.readouterr().out == ""

    async def test_results_come_back_encoded(self, runtime: BenchRuntime) -> None:
        reader = runtime.machines["reader"]
        assert isinstance(reader, PlateReader)
        plate = reader.get_plate()
        args = encode_kwargs({"plate": plate, "wells": plate.get_all_items(), "wavelength": 450})
        result = await runtime.perform(call("read_absorbance", machine="reader", **args))
        assert result.ok
        json.dumps(result.result, allow_nan=False)
        (read,) = result.result
        assert read["wavelength"] == 450 and len(read["data"]) == 8 and len(read["data"][0]) == 12


class TestIdempotency:
    async def test_a_repeated_key_returns_the_first_result_without_touching_the_device(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spy = spy_on(runtime, "pick_up_tips", monkeypatch)
        first = await runtime.perform(pickup_call(runtime, 7))
        again = await runtime.perform(pickup_call(runtime, 7))
        assert len(spy.calls) == 1
        assert again.replayed and not first.replayed
        assert again.model_dump(exclude={"replayed"}) == first.model_dump(exclude={"replayed"})

    async def test_another_sequence_or_run_is_another_call(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spy = spy_on(runtime, "pick_up_tips", monkeypatch)
        await runtime.perform(pickup_call(runtime, 1))
        await runtime.perform(pickup_call(runtime, 2))
        await runtime.perform(pickup_call(runtime, 1, run_id="run-2"))
        assert len(spy.calls) == 3

    async def test_a_retry_while_the_first_attempt_runs_shares_its_answer(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        gate = asyncio.Event()
        spy = spy_on(runtime, "pick_up_tips", monkeypatch, gate=gate)
        first = asyncio.ensure_future(runtime.perform(pickup_call(runtime, 3)))
        retry = asyncio.ensure_future(runtime.perform(pickup_call(runtime, 3)))
        await asyncio.wait_for(spy.entered.wait(), timeout=5)
        gate.set()
        results = await asyncio.gather(first, retry)
        assert len(spy.calls) == 1
        assert sorted(r.replayed for r in results) == [False, True]

    async def test_a_failure_is_replayed_too(self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
        spy = spy_on(runtime, "pick_up_tips", monkeypatch, raises=RuntimeError("jammed"))
        first = await runtime.perform(pickup_call(runtime, 4))
        again = await runtime.perform(pickup_call(runtime, 4))
        assert not first.ok and not again.ok and again.replayed
        assert len(spy.calls) == 1


class TestRefusals:
    @pytest.mark.parametrize(
        ("method", "reason"),
        [
            ("_ops_to_fw_positions", "private"),
            ("__init__", "private"),
            ("setup", "managed by the bench agent"),
            ("stop", "managed by the bench agent"),
            ("pick_up_everything", "has no method"),
            ("serialize", "not an async backend method"),
            ("can_pick_up_tip", "not an async backend method"),
        ],
    )
    async def test_only_public_backend_coroutines_can_be_called(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch, method: str, reason: str
    ) -> None:
        stop = spy_on(runtime, "stop", monkeypatch)
        result = await runtime.perform(call(method))
        assert not result.ok and result.error_type == "MethodNotAllowed"
        assert result.error is not None and reason in result.error
        assert stop.calls == []

    async def test_an_unknown_machine(self, runtime: BenchRuntime) -> None:
        result = await runtime.perform(call("read_absorbance", machine="centrifuge"))
        assert not result.ok and result.error_type == "UnknownMachine" and "centrifuge" in (result.error or "")

    async def test_a_call_for_another_bench(self, runtime: BenchRuntime) -> None:
        result = await runtime.perform(call("aspirate", bench_id="bench-2"))
        assert not result.ok and result.error_type == "MachineCallRefused"

    async def test_an_unknown_resource_fails_before_the_device(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spy = spy_on(runtime, "aspirate", monkeypatch)
        result = await runtime.perform(call("aspirate", ops=[{"$resource": "no_such_well"}], use_channels=[0]))
        assert not result.ok and result.error_type == "UnknownResource"
        assert spy.calls == []

    async def test_a_backend_exception_becomes_a_failed_result(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spy_on(runtime, "pick_up_tips", monkeypatch, raises=ValueError("no tip at A1"))
        result = await runtime.perform(pickup_call(runtime, 1))
        assert (result.ok, result.error_type, result.error) == (False, "ValueError", "no tip at A1")
        assert result.duration_ms >= 0

    async def test_a_machine_that_failed_setup_refuses_calls(self, monkeypatch: pytest.MonkeyPatch) -> None:
        rt = BenchRuntime.from_file(SIM_BENCH)

        async def broken_setup() -> None:
            raise OSError("no USB device")

        monkeypatch.setattr(rt.machines["reader"].backend, "setup", broken_setup)
        await rt.setup()
        await rt.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-1"))
        try:
            assert rt.machine_status() == {"lh": "idle", "reader": "error"}
            result = await rt.perform(call("open", machine="reader"))
            assert not result.ok and "no USB device" in (result.error or "")
        finally:
            await rt.stop()


class TestRunDecks:
    def run_deck(self, rt: BenchRuntime) -> dict[str, Any]:
        """The worker's deck for a run that put an extra plate on the plate carrier's 4th site."""
        worker_lh = LiquidHandler.deserialize(plr_json(lh_of(rt).serialize()))
        carrier = worker_lh.deck.get_resource("plate_carrier")
        carrier[3] = cor_96_wellplate_360uL_Fb(name="run_plate")
        return plr_json(worker_lh.serialize())

    def aspirate_from(self, rt: BenchRuntime, well: Any, run_id: str) -> MachineCall:
        tip = lh_of(rt).deck.get_resource("tips_01_tipspot_A1")
        assert isinstance(tip, TipSpot)
        op = SingleChannelAspiration(
            resource=well,
            offset=Coordinate.zero(),
            tip=tip.get_tip(),
            volume=10.0,
            flow_rate=None,
            liquid_height=None,
            blow_out_air_volume=None,
            mix=None,
        )
        args = encode_kwargs({"ops": [op], "use_channels": [0]})
        return MachineCall(bench_id=BENCH, run_id=run_id, sequence=1, machine="lh", method="aspirate", args=args)

    async def test_names_resolve_in_the_runs_mirror(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[tuple[Any, Deck]] = []

        async def aspirate(**kwargs: Any) -> None:
            seen.append((kwargs["ops"][0].resource, lh_of(runtime).backend.deck))

        monkeypatch.setattr(lh_of(runtime).backend, "aspirate", aspirate)
        cmd = LoadRunDeck(bench_id=BENCH, run_id="run-9", machines={"lh": self.run_deck(runtime)})
        ack = await runtime.load_run_deck(cmd)
        assert ack.ok, ack.detail
        worker_plate = cor_96_wellplate_360uL_Fb(name="run_plate")
        result = await runtime.perform(self.aspirate_from(runtime, worker_plate.get_item("A1"), "run-9"))
        assert result.ok, result.error
        ((mirrored, deck_during_call),) = seen
        assert mirrored.name == "run_plate_well_A1" and mirrored.parent.name == "run_plate"
        assert deck_during_call is not lh_of(runtime).deck  # the backend saw the run's deck during the call
        assert deck_during_call.get_resource("run_plate_well_A1") is mirrored
        assert lh_of(runtime).backend.deck is lh_of(runtime).deck  # and its own deck afterwards

    async def test_another_runs_deck_is_not_used(self, runtime: BenchRuntime) -> None:
        ack = await runtime.load_run_deck(
            LoadRunDeck(bench_id=BENCH, run_id="run-9", machines={"lh": self.run_deck(runtime)})
        )
        assert ack.ok
        well = cor_96_wellplate_360uL_Fb(name="run_plate").get_item("A1")
        other_run = await runtime.perform(self.aspirate_from(runtime, well, "run-1"))  # on the bench's labware
        assert other_run.error_type == "UnknownResource"
        await runtime.end_run("run-9")
        assert "run-9" not in runtime.run_ids()

    async def test_a_run_without_a_deck_is_refused_not_resolved_against_the_bench(
        self, runtime: BenchRuntime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        spy = spy_on(runtime, "aspirate", monkeypatch)
        well = lh_of(runtime).deck.get_resource("plate_01_well_A1")
        result = await runtime.perform(self.aspirate_from(runtime, well, "run-10"))
        assert (result.ok, result.error_type) == (False, CallRefusal.RUN_DECK_MISSING)
        assert "LoadRunDeck" in (result.error or "") and spy.calls == []
        assert runtime.store.get("run-10:1") is None  # a refusal is not recorded

    async def test_a_deck_for_an_unknown_machine_is_refused(self, runtime: BenchRuntime) -> None:
        ack = await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-9", machines={"centrifuge": {}}))
        assert not ack.ok and "centrifuge" in ack.detail

    async def test_mirrors_of_forgotten_runs_are_dropped(self, runtime: BenchRuntime) -> None:
        runtime.max_runs = 2
        reader = plr_json(runtime.machines["reader"].serialize())
        for run in ("a", "b", "c"):
            assert (
                await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id=run, machines={"reader": reader}))
            ).ok
        assert runtime.run_ids() == ["b", "c"]

    async def test_a_deck_of_a_stale_worker_is_refused(self, runtime: BenchRuntime) -> None:
        assert (await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-e", epoch=2))).ok
        stale = await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-e", epoch=1))
        assert not stale.ok and stale.detail.startswith("stale worker") and "epoch 2" in stale.detail
        assert (await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-e", epoch=3))).ok


class TestDescribe:
    async def test_description_carries_inventory_serialization_and_state(self, runtime: BenchRuntime) -> None:
        desc = runtime.describe()
        assert desc.bench_id == BENCH and desc.simulated
        machines = {m.name: m for m in desc.machines}
        assert machines["lh"].status == "idle" and "channels:8" in machines["lh"].capabilities
        assert "absorbance" in machines["reader"].capabilities
        assert desc.serialized["lh"]["type"] == "LiquidHandler"
        assert desc.serialized["reader"]["children"][0]["name"] == "read_plate_01"
        extra = desc.serialized[PRAXIS_KEY]
        assert extra["state"]["lh"]["volumes"] == {"trough_01": 150_000.0}
        assert extra["backend"]["lh"]["num_channels"] == 8
        json.loads(desc.model_dump_json())

    async def test_the_bench_id_can_be_overridden(self) -> None:
        assert BenchRuntime.from_file(SIM_BENCH, bench_id="bench-7").bench_id == "bench-7"

    async def test_the_unreachable_timeout_comes_from_the_config(self) -> None:
        raw = yaml.safe_load(SIM_BENCH.read_text())
        assert BenchRuntime(parse_bench_config(raw)).describe().unreachable_timeout_s is None
        raw["unreachable_timeout_s"] = 45
        assert BenchRuntime(parse_bench_config(raw)).describe().unreachable_timeout_s == 45.0

    async def test_a_machine_declared_real_is_announced_real(self) -> None:
        raw = yaml.safe_load(SIM_BENCH.read_text())
        raw["machines"][1]["simulated"] = False
        rt = BenchRuntime(parse_bench_config(raw))
        assert rt.simulated == {"lh": True, "reader": False}
        assert {m.name: m.simulated for m in rt.machine_infos()} == {"lh": True, "reader": False}

    async def test_a_real_backend_cannot_be_declared_simulated(self) -> None:
        raw = yaml.safe_load(SIM_BENCH.read_text())
        raw["machines"][1]["simulated"] = True
        config = parse_bench_config(raw)
        machines = build_bench(config)
        machines["reader"].backend.__class__ = type("SerialReaderBackend", (PlateReaderChatterboxBackend,), {})
        with pytest.raises(BenchConfigError) as err:
            BenchRuntime(config, machines=machines)
        assert "machine 'reader', field simulated" in str(err.value)


async def test_the_in_process_transport_goes_through_json(runtime: BenchRuntime) -> None:
    transport = InProcessBenchTransport({BENCH: runtime})
    result = await transport.call(pickup_call(runtime, 1))
    assert result.ok
    assert (await transport.describe(BENCH)).bench_id == BENCH
    assert (await transport.end_run(EndRun(bench_id=BENCH, run_id="run-1"))).ok
    with pytest.raises(LookupError):
        await transport.describe("bench-9")
