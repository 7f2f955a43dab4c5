"""Deterministic replay in the worker, with the simulated bench in this process.

A new worker generation re-runs the protocol: calls in the journal are answered from it without any bench seeing
them; calls the lost worker made but never reported are answered by the bench from its record; the first call
nobody made goes to the instrument. A replay that asks for something else than the journal holds parks the run,
and so does a call whose outcome the bench does not know; each operator choice then does what it says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from praxis_contracts.hardware import (
    Ack,
    BenchDescription,
    CallRefusal,
    EndRun,
    LoadRunDeck,
    MachineCall,
    MachineCallResult,
)
from praxis_contracts.runs import AssetAssignment, Assignment
from praxis_executor.worker.control import RunControl, RunParked
from praxis_executor.worker.journal import CallRecord, MemoryJournal
from praxis_executor.worker.protocol import JournalEntry, RecoveryPlan
from praxis_executor.worker.runner import run_protocol
from praxis_hardware_agent.adapters.inprocess import InProcessBenchTransport

ROOT = Path(__file__).resolve().parents[3]
SIM_BENCH = ROOT / "deploy" / "benches" / "sim-bench.yaml"
LONG_MIX = (ROOT / "tests" / "e2e" / "protocols" / "long_mix.py").read_text()
BENCH = "sim-bench-1"
CYCLES = 6
CALLS = 3 + 2 * CYCLES + 1


def asset(requirement: str, resource: str | None = None) -> AssetAssignment:
    kind = "machine" if resource is None else "resource"
    return AssetAssignment(requirement=requirement, kind=kind, bench_id=BENCH, machine="lh", resource=resource)


ASSIGNMENT = Assignment(
    assets=[asset("lh"), asset("plate", "plate_03"), asset("tips", "tips_02"), asset("trough", "trough_01")]
)


class Crash(BaseException):
    """The worker dies here (as if killed): nothing after this point happens in this generation."""


@dataclass
class Bench:
    """The in-process bench, counting what reaches it and what it performed (not answered from its record)."""

    inner: InProcessBenchTransport
    sent: list[int] = field(default_factory=list)
    performed: list[int] = field(default_factory=list)
    refuse: dict[int, str] = field(default_factory=dict)
    decks_loaded: int = 0

    async def call(self, call: MachineCall) -> MachineCallResult:
        self.sent.append(call.sequence)
        if call.sequence in self.refuse and not call.perform_if_unknown:
            return MachineCallResult(ok=False, error_type=self.refuse[call.sequence], error="agent restarted mid-call")
        result = await self.inner.call(call)
        if not result.replayed:
            self.performed.append(call.sequence)
        return result

    async def describe(self, bench_id: str) -> BenchDescription:
        return await self.inner.describe(bench_id)

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack:
        self.decks_loaded += 1
        return await self.inner.load_run_deck(cmd)

    async def end_run(self, cmd: EndRun) -> Ack:
        return await self.inner.end_run(cmd)


class CrashingJournal(MemoryJournal):
    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__()
        self.crash_after = crash_after

    async def record(self, entry: CallRecord) -> None:
        await super().record(entry)
        if self.crash_after is not None and len(self.entries) >= self.crash_after:
            raise Crash()


@pytest.fixture(scope="module")
async def inner() -> AsyncIterator[InProcessBenchTransport]:
    transport = await InProcessBenchTransport.start([SIM_BENCH])
    yield transport
    await transport.close()


@pytest.fixture
def bench(inner: InProcessBenchTransport) -> Bench:
    return Bench(inner)


@pytest.fixture
def run_id(request: pytest.FixtureRequest) -> str:
    return f"replay-{request.node.name}"


async def generation(
    bench: Bench,
    run_id: str,
    *,
    epoch: int = 1,
    replay: list[JournalEntry] | None = None,
    recovery: RecoveryPlan | None = None,
    journal: MemoryJournal | None = None,
) -> dict[str, Any]:
    return await run_protocol(
        LONG_MIX,
        "long_mix",
        {"cycles": CYCLES},
        ASSIGNMENT,
        {BENCH: await bench.describe(BENCH)},
        bench,  # type: ignore[arg-type]
        RunControl(),
        journal if journal is not None else MemoryJournal(),
        run_id=run_id,
        epoch=epoch,
        replay=replay or [],
        recovery=recovery,
    )


def entries(records: list[CallRecord]) -> list[JournalEntry]:
    return [
        JournalEntry(
            sequence=r.sequence,
            bench_id=r.bench_id,
            machine=r.machine,
            method=r.method,
            args=r.args,
            ok=r.ok,
            result=r.result,
            error_type=r.error_type,
            error=r.error,
        )
        for r in records
    ]


async def test_a_full_journal_replays_without_touching_the_bench_and_rebuilds_the_deck(
    bench: Bench, run_id: str
) -> None:
    first = MemoryJournal()
    outputs = await generation(bench, run_id, journal=first)
    assert bench.performed == list(range(1, CALLS + 1))
    bench.sent.clear()
    replayed = await generation(bench, run_id, epoch=2, replay=entries(first.entries))
    assert bench.sent == [], "every call was answered from the journal"
    assert replayed["well_volumes"] == outputs["well_volumes"], "trackers rebuilt by the replay itself"


async def test_calls_missing_from_the_journal_are_answered_by_the_bench_then_the_run_goes_live(
    bench: Bench, run_id: str
) -> None:
    lost = CrashingJournal(crash_after=9)
    with pytest.raises(Crash):
        await generation(bench, run_id, journal=lost)
    journaled = entries(lost.entries[:5])  # the executor died too: its journal lags the bench by four calls
    second = MemoryJournal()
    outputs = await generation(bench, run_id, epoch=2, replay=journaled, journal=second)
    assert [r.sequence for r in second.entries] == list(range(6, CALLS + 1))
    assert [r.replayed for r in second.entries[:4]] == [True] * 4, "6..9 came from the bench's record"
    assert not any(r.replayed for r in second.entries[4:]), "10.. reached the instrument"
    assert sorted(bench.performed) == list(range(1, CALLS + 1)), "every call performed exactly once"
    assert outputs["well_volumes"]["plate_03"]["A1"] == 50.0


async def test_a_replay_that_asks_for_something_else_parks_at_that_step(bench: Bench, run_id: str) -> None:
    first = MemoryJournal()
    await generation(bench, run_id, journal=first)
    journal = entries(first.entries)
    journal[3] = journal[3].model_copy(update={"args": {**journal[3].args, "use_channels": [5]}})
    bench.sent.clear()
    with pytest.raises(RunParked) as parked:
        await generation(bench, run_id, epoch=2, replay=journal)
    assert parked.value.kind == "divergence" and parked.value.step == 4
    assert "step 4" in parked.value.reason and "not deterministic" in parked.value.reason
    assert parked.value.choices == ["retry", "abort"]
    assert bench.sent == []


class TestUnknownOutcome:
    async def test_a_call_whose_outcome_the_bench_does_not_know_parks_with_three_choices(
        self, bench: Bench, run_id: str
    ) -> None:
        bench.refuse[4] = CallRefusal.OUTCOME_UNKNOWN
        journal = MemoryJournal()
        with pytest.raises(RunParked) as parked:
            await generation(bench, run_id, journal=journal)
        assert (parked.value.kind, parked.value.step) == ("unknown_outcome", 4)
        assert parked.value.choices == ["happened", "retry", "abort"]
        assert [r.sequence for r in journal.entries] == [1, 2, 3], "nothing after the unknown step"

    async def test_happened_goes_on_after_the_step_without_sending_it(self, bench: Bench, run_id: str) -> None:
        bench.refuse[4] = CallRefusal.OUTCOME_UNKNOWN
        first = MemoryJournal()
        with pytest.raises(RunParked):
            await generation(bench, run_id, journal=first)
        bench.sent.clear()
        second = MemoryJournal()
        await generation(
            bench,
            run_id,
            epoch=2,
            replay=entries(first.entries),
            recovery=RecoveryPlan(step=4, choice="happened"),
            journal=second,
        )
        assert 4 not in bench.sent
        step4 = second.entries[0]
        assert step4.sequence == 4 and step4.ok and step4.result is None and step4.summary["operator"] == "happened"
        assert [r.sequence for r in second.entries] == list(range(4, CALLS + 1))

    async def test_retry_sends_the_step_again_telling_the_bench_to_perform_it(self, bench: Bench, run_id: str) -> None:
        bench.refuse[4] = CallRefusal.OUTCOME_UNKNOWN
        first = MemoryJournal()
        with pytest.raises(RunParked):
            await generation(bench, run_id, journal=first)
        second = MemoryJournal()
        await generation(
            bench,
            run_id,
            epoch=2,
            replay=entries(first.entries),
            recovery=RecoveryPlan(step=4, choice="retry"),
            journal=second,
        )
        assert 4 in bench.performed
        assert [r.sequence for r in second.entries] == list(range(4, CALLS + 1))


async def test_a_stale_worker_stops_without_touching_anything(bench: Bench, run_id: str) -> None:
    from praxis_executor.worker.control import WorkerSuperseded

    bench.refuse[2] = CallRefusal.STALE_WORKER
    journal = MemoryJournal()
    with pytest.raises(WorkerSuperseded):
        await generation(bench, run_id, journal=journal)
    assert [r.sequence for r in journal.entries] == [1]
