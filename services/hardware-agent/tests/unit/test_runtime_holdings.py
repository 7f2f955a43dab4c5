"""BenchRuntime with a holdings check: only a run that holds a machine loads a deck for it or acts on it; a key
already done is still answered from the record after the run's release; refusals leave no trace in the record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from praxis_contracts.hardware import CallRefusal, LoadRunDeck, MachineCall
from praxis_contracts.scheduler import ReservationInfo
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_hardware_agent.domain.holdings import Holdings

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"
BENCH = "holdings-bench"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


class Check:
    """Answers from a :class:`Holdings` fed snapshots by the test (no scheduler: an unknown run is refused)."""

    def __init__(self) -> None:
        self.holdings = Holdings(BENCH)
        self.asked: list[tuple[str, list[str]]] = []

    def hold(self, run_id: str, *machines: str) -> None:
        listed = [
            ReservationInfo(
                id=f"{run_id}-{m}",
                asset_id=f"{BENCH}/{m}",
                owner_kind="run",
                owner=run_id,
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                created_at=T0,
            )
            for m in machines
        ]
        self.holdings.apply_snapshot(listed, self.holdings.begin_sync(), T0)

    def release_all(self) -> None:
        self.holdings.apply_snapshot([], self.holdings.begin_sync(), T0)

    async def refusal(self, run_id: str, machines: Collection[str]) -> str | None:
        self.asked.append((run_id, sorted(machines)))
        verdict = self.holdings.verdict(run_id, machines)
        return None if verdict.held else verdict.reason


@pytest.fixture
def check() -> Check:
    return Check()


@pytest.fixture
async def runtime(check: Check) -> AsyncIterator[BenchRuntime]:
    rt = BenchRuntime.from_file(SIM_BENCH, bench_id=BENCH, holdings=check)
    await rt.setup()
    yield rt
    await rt.stop()


def reader_open(run_id: str, sequence: int = 1) -> MachineCall:
    return MachineCall(bench_id=BENCH, run_id=run_id, sequence=sequence, machine="reader", method="open")


def refusals() -> float:
    labels = {"bench": BENCH, "reason": CallRefusal.NOT_HELD.value}
    return REGISTRY.get_sample_value("praxis_agent_call_refusals_total", labels) or 0.0


async def test_a_run_holding_the_machine_loads_its_deck_and_acts(runtime: BenchRuntime, check: Check) -> None:
    check.hold("run-1", "reader")
    ack = await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-1", machines={}))
    result = await runtime.perform(reader_open("run-1"))
    assert ack.ok and result.ok and not result.replayed
    assert check.asked == [("run-1", []), ("run-1", ["reader"])]


async def test_a_made_up_run_is_refused_and_leaves_no_trace(runtime: BenchRuntime) -> None:
    before = refusals()
    ack = await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="forged"))
    result = await runtime.perform(reader_open("forged"))

    assert not ack.ok and ack.error_type == CallRefusal.NOT_HELD
    assert "run forged holds no reservation of anything on bench holdings-bench" in ack.detail
    assert not result.ok and result.error_type == CallRefusal.NOT_HELD.value
    assert result.error is not None and "run forged holds no reservation of holdings-bench/reader" in result.error
    assert refusals() == before + 2
    assert runtime.store.summary("forged") == []  # not even the run's epoch is remembered
    assert runtime.run_ids() == []


async def test_a_deck_naming_a_machine_the_run_does_not_hold_is_refused(runtime: BenchRuntime, check: Check) -> None:
    check.hold("run-1", "lh")
    deck = {"reader": runtime.describe().serialized["reader"]}
    ack = await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-1", machines=deck))
    call = await runtime.perform(reader_open("run-1"))

    assert not ack.ok and ack.error_type == CallRefusal.NOT_HELD
    assert ack.detail == f"run run-1 holds no reservation of {BENCH}/reader (it holds {BENCH}/lh)"
    assert call.error_type == CallRefusal.NOT_HELD.value
    assert runtime.run_ids() == []


async def test_a_done_key_is_answered_from_the_record_after_the_release(runtime: BenchRuntime, check: Check) -> None:
    check.hold("run-1", "reader")
    assert (await runtime.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-1"))).ok
    first = await runtime.perform(reader_open("run-1", 1))
    check.release_all()

    replay = await runtime.perform(reader_open("run-1", 1))
    new_key = await runtime.perform(reader_open("run-1", 2))

    assert first.ok and replay.replayed and replay.result == first.result
    assert new_key.error_type == CallRefusal.NOT_HELD.value
    assert "no longer among the scheduler's reservations" in (new_key.error or "")
    (run,) = runtime.store.summary("run-1")
    assert run.as_json() == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}


async def test_without_a_check_every_run_may_act() -> None:
    rt = BenchRuntime.from_file(SIM_BENCH, bench_id=BENCH)
    await rt.setup()
    try:
        assert (await rt.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="any"))).ok
        assert (await rt.perform(reader_open("any"))).ok
    finally:
        await rt.stop()
