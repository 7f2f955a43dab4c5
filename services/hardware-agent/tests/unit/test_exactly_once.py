"""BenchRuntime with its call record in a real SQLite file: each key acts at most once, across agent restarts,
and the agent says so when it cannot know (OutcomeUnknown) instead of acting again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from praxis_contracts.hardware import CallRefusal, LoadRunDeck, MachineCall, MachineCallResult
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore
from praxis_hardware_agent.domain.call_record import CallState
from praxis_plrbridge.bench_config import BenchConfig, parse_bench_config

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"
BENCH = "record-bench"
RUN = "run-r"


def two_readers() -> BenchConfig:
    """Two chatterbox plate readers: ``real`` is declared ``simulated: false`` (it behaves like hardware: the
    intent is recorded before it acts), ``sim`` is a simulator."""
    reader = yaml.safe_load(SIM_BENCH.read_text())["machines"][1]
    real = {**reader, "name": "real", "simulated": False}
    sim = {**reader, "name": "sim", "labware": []}
    return parse_bench_config({"bench_id": BENCH, "machines": [real, sim]})


class Device:
    """Stands in for backend methods of one machine: counts invocations, can block or raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.raises: Exception | None = None

    def method(self, name: str) -> Callable[..., Awaitable[str]]:
        async def invoke(**kwargs: Any) -> str:
            self.calls.append((name, kwargs))
            self.entered.set()
            if self.gate is not None:
                await self.gate.wait()
            if self.raises is not None:
                raise self.raises
            return f"{name} done"

        return invoke


Agent = Callable[[], Awaitable[BenchRuntime]]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "agent" / f"{BENCH}.sqlite3"


@pytest.fixture
def devices() -> dict[str, Device]:
    return {"real": Device(), "sim": Device()}


@pytest.fixture
async def agent(state: Path, devices: dict[str, Device], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    """Starts an agent process's runtime on the state file; each call is a new process (an agent restart)."""
    started: list[BenchRuntime] = []

    async def start() -> BenchRuntime:
        rt = BenchRuntime(two_readers(), store=SqliteCallStore.open(state), inflight_wait_s=0.05)
        for name, device in devices.items():
            for method in ("open", "close"):
                monkeypatch.setattr(rt.machines[name].backend, method, device.method(method))
        await rt.setup()
        started.append(rt)
        return rt

    yield start
    for rt in started:
        await rt.stop()
        rt.store.close()


async def load(rt: BenchRuntime, run_id: str = RUN, epoch: int = 0) -> None:
    ack = await rt.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id=run_id, epoch=epoch))
    assert ack.ok, ack.detail


def call(machine: str, sequence: int, method: str = "open", **kwargs: Any) -> MachineCall:
    fields: dict[str, Any] = {"run_id": RUN, "args": {"speed": 1}, **kwargs}
    return MachineCall(bench_id=BENCH, sequence=sequence, machine=machine, method=method, **fields)


def refused(result: MachineCallResult, reason: CallRefusal) -> bool:
    return not result.ok and result.error_type == reason.value and not result.replayed


def summary(rt: BenchRuntime, run_id: str = RUN) -> dict[str, Any]:
    (run,) = rt.store.summary(run_id)
    return run.as_json()


def refusals(reason: CallRefusal) -> float:
    return REGISTRY.get_sample_value("praxis_agent_call_refusals_total", {"bench": BENCH, "reason": reason}) or 0.0


class TestRepeats:
    @pytest.mark.parametrize("machine", ["real", "sim"])
    async def test_a_repeat_is_answered_from_the_record(
        self, agent: Agent, devices: dict[str, Device], machine: str
    ) -> None:
        rt = await agent()
        await load(rt)
        first, again = await rt.perform(call(machine, 1)), await rt.perform(call(machine, 1))
        assert first.ok and first.result == "open done" and not first.replayed
        assert again.replayed and again.model_dump(exclude={"replayed"}) == first.model_dump(exclude={"replayed"})
        assert len(devices[machine].calls) == 1
        assert summary(rt) == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}

    async def test_a_restarted_agent_answers_a_done_key_from_the_file_without_acting(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        first = await rt.perform(call("real", 1))
        assert first.ok
        restarted = await agent()  # no LoadRunDeck yet: a known key needs no deck
        again = await restarted.perform(call("real", 1))
        assert again.replayed and again.result == first.result
        assert len(devices["real"].calls) == 1

    async def test_a_failure_is_the_recorded_answer_too(self, agent: Agent, devices: dict[str, Device]) -> None:
        rt = await agent()
        await load(rt)
        devices["real"].raises = RuntimeError("lid jammed")
        first = await rt.perform(call("real", 1))
        devices["real"].raises = None
        again = await (await agent()).perform(call("real", 1))
        assert (first.error_type, again.error_type, again.replayed) == ("RuntimeError", "RuntimeError", True)
        assert len(devices["real"].calls) == 1

    @pytest.mark.parametrize(
        "changed", [{"method": "close"}, {"args": {"speed": 2}}, {"machine": "sim"}], ids=["method", "args", "machine"]
    )
    async def test_the_same_key_for_another_action_is_a_conflict(
        self, agent: Agent, devices: dict[str, Device], changed: dict[str, Any]
    ) -> None:
        rt = await agent()
        await load(rt)
        assert (await rt.perform(call("real", 1))).ok
        before = refusals(CallRefusal.CONFLICT)
        fields = {"machine": "real", "sequence": 1, **changed}
        result = await rt.perform(call(**fields))
        assert refused(result, CallRefusal.CONFLICT)
        assert "real.open" in (result.error or "") and f"{fields['machine']}." in (result.error or "")
        assert len(devices["real"].calls) + len(devices["sim"].calls) == 1
        assert refusals(CallRefusal.CONFLICT) == before + 1

    async def test_the_performed_table_counts_invocations(self, agent: Agent, devices: dict[str, Device]) -> None:
        rt = await agent()
        await load(rt)
        for seq in (1, 2, 3):
            assert (await rt.perform(call("sim", seq))).ok
        await rt.perform(call("sim", 3))  # a repeat: not an invocation
        devices["real"].raises = ValueError("no plate")
        assert (await rt.perform(call("real", 4))).error_type == "ValueError"  # invoked, and failed
        not_allowed = await rt.perform(call("real", 5, method="setup"))  # never reaches the backend
        assert not_allowed.error_type == "MethodNotAllowed"
        assert summary(rt) == {"performed": 4, "duplicated": [], "unknown": [], "max_sequence": 5}


class TestFencing:
    async def test_a_call_of_an_older_epoch_is_refused_even_after_a_restart(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt, epoch=2)
        assert (await rt.perform(call("sim", 1, epoch=2))).ok
        before = refusals(CallRefusal.STALE_WORKER)
        assert refused(await rt.perform(call("sim", 2, epoch=1)), CallRefusal.STALE_WORKER)
        restarted = await agent()
        await load(restarted, epoch=3)
        stale = await restarted.perform(call("sim", 2, epoch=2))
        assert refused(stale, CallRefusal.STALE_WORKER) and "epoch 3" in (stale.error or "")
        assert len(devices["sim"].calls) == 1
        assert refusals(CallRefusal.STALE_WORKER) == before + 2

    async def test_a_newer_epoch_raises_the_fence_durably(self, agent: Agent) -> None:
        rt = await agent()
        await load(rt)
        assert (await rt.perform(call("sim", 1, epoch=5))).ok
        restarted = await agent()
        stale = await restarted.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id=RUN, epoch=4))
        assert not stale.ok and "stale worker" in stale.detail

    async def test_a_newer_worker_gets_the_recorded_answer(self, agent: Agent, devices: dict[str, Device]) -> None:
        rt = await agent()
        await load(rt, epoch=1)
        first = await rt.perform(call("real", 1, epoch=1))
        again = await rt.perform(call("real", 1, epoch=2))  # the replacement worker replays the same call
        assert again.replayed and again.result == first.result and len(devices["real"].calls) == 1


class TestUnknownOutcomes:
    async def crash_mid_call(self, agent: Agent, device: Device, machine: str) -> BenchRuntime:
        """The device is acting when the agent process goes away (its task cancelled, nothing recorded after)."""
        rt = await agent()
        await load(rt)
        device.gate = asyncio.Event()
        task = asyncio.ensure_future(rt.perform(call(machine, 1)))
        await asyncio.wait_for(device.entered.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        device.gate = None
        return rt

    async def test_a_real_machine_records_its_intent_before_acting(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        for machine in ("real", "sim"):
            devices[machine].gate = asyncio.Event()
        tasks = [asyncio.ensure_future(rt.perform(call(m, seq))) for seq, m in ((1, "real"), (2, "sim"))]
        await asyncio.wait_for(asyncio.gather(*(d.entered.wait() for d in devices.values())), timeout=10)
        intent = rt.store.get(f"{RUN}:1")
        assert intent is not None and intent.state is CallState.STARTED and intent.result is None
        assert rt.store.get(f"{RUN}:2") is None  # a simulated device's effect dies with the process: no intent
        for device in devices.values():
            assert device.gate is not None
            device.gate.set()
        assert all(r.ok for r in await asyncio.gather(*tasks))
        done = rt.store.get(f"{RUN}:1")
        assert done is not None and done.state is CallState.DONE

    async def test_a_real_machine_interrupted_mid_call_is_outcome_unknown(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        await self.crash_mid_call(agent, devices["real"], "real")
        restarted = await agent()
        await load(restarted)
        before = refusals(CallRefusal.OUTCOME_UNKNOWN)
        result = await restarted.perform(call("real", 1))
        assert refused(result, CallRefusal.OUTCOME_UNKNOWN) and "real.open" in (result.error or "")
        assert len(devices["real"].calls) == 1  # only the interrupted attempt
        assert summary(restarted) == {"performed": 0, "duplicated": [], "unknown": [1], "max_sequence": 1}
        assert refusals(CallRefusal.OUTCOME_UNKNOWN) == before + 1

    async def test_an_operator_retry_performs_an_unknown_call(self, agent: Agent, devices: dict[str, Device]) -> None:
        await self.crash_mid_call(agent, devices["real"], "real")
        restarted = await agent()
        await load(restarted)
        retried = await restarted.perform(call("real", 1, perform_if_unknown=True))
        assert retried.ok and not retried.replayed
        assert len(devices["real"].calls) == 2
        assert summary(restarted) == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}
        assert (await restarted.perform(call("real", 1))).replayed  # and from now on it is a done key

    async def test_a_simulated_machine_interrupted_mid_call_is_performed_again(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        await self.crash_mid_call(agent, devices["sim"], "sim")
        restarted = await agent()
        await load(restarted)
        result = await restarted.perform(call("sim", 1))
        assert result.ok and not result.replayed
        assert summary(restarted) == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}


class TestInFlight:
    async def test_a_repeat_of_a_running_call_is_in_progress_then_answered(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        device = devices["real"]
        device.gate = asyncio.Event()
        first = asyncio.ensure_future(rt.perform(call("real", 1)))
        await asyncio.wait_for(device.entered.wait(), timeout=10)
        assert refused(await rt.perform(call("real", 1)), CallRefusal.IN_PROGRESS)  # not OutcomeUnknown: alive
        device.gate.set()
        assert (await first).ok
        again = await rt.perform(call("real", 1))
        assert again.replayed and len(device.calls) == 1

    async def test_a_repeat_that_waits_long_enough_shares_the_answer(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        rt.inflight_wait_s = 30
        device = devices["sim"]
        device.gate = asyncio.Event()
        first = asyncio.ensure_future(rt.perform(call("sim", 1)))
        await asyncio.wait_for(device.entered.wait(), timeout=10)
        repeat = asyncio.ensure_future(rt.perform(call("sim", 1)))
        device.gate.set()
        results = await asyncio.gather(first, repeat)
        assert [r.replayed for r in results] == [False, True] and len(device.calls) == 1

    async def test_another_action_under_a_running_key_is_a_conflict(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        devices["sim"].gate = gate = asyncio.Event()
        first = asyncio.ensure_future(rt.perform(call("sim", 1)))
        await asyncio.wait_for(devices["sim"].entered.wait(), timeout=10)
        assert refused(await rt.perform(call("sim", 1, method="close")), CallRefusal.CONFLICT)
        gate.set()
        assert (await first).ok


class TestRunDecks:
    async def test_a_new_key_of_a_run_without_a_deck_is_refused_until_the_deck_is_sent_again(
        self, agent: Agent, devices: dict[str, Device]
    ) -> None:
        rt = await agent()
        await load(rt)
        assert (await rt.perform(call("sim", 1))).ok
        restarted = await agent()
        before = refusals(CallRefusal.RUN_DECK_MISSING)
        assert refused(await restarted.perform(call("sim", 2)), CallRefusal.RUN_DECK_MISSING)
        assert restarted.store.get(f"{RUN}:2") is None and len(devices["sim"].calls) == 1
        await load(restarted)
        assert (await restarted.perform(call("sim", 2))).ok
        assert summary(restarted)["performed"] == 2
        assert refusals(CallRefusal.RUN_DECK_MISSING) == before + 1

    async def test_after_end_run_new_keys_need_a_deck_again(self, agent: Agent) -> None:
        rt = await agent()
        await load(rt)
        await rt.end_run(RUN)
        assert refused(await rt.perform(call("sim", 1)), CallRefusal.RUN_DECK_MISSING)


async def test_a_stopping_agent_refuses_new_calls(agent: Agent, devices: dict[str, Device]) -> None:
    rt = await agent()
    await load(rt)
    await rt.stop()
    assert refused(await rt.perform(call("sim", 1)), CallRefusal.IN_PROGRESS)
    assert devices["sim"].calls == [] and rt.store.get(f"{RUN}:1") is None


async def test_full_sync_is_a_setting_of_the_file(tmp_path: Path) -> None:
    store = SqliteCallStore.open(tmp_path / "b.sqlite3", sync="full")
    try:
        rt = BenchRuntime(two_readers(), store=store)
        await rt.setup()
        await load(rt)
        result = await rt.perform(call("real", 1, args={}))  # the chatterbox itself, this time
        assert result.ok, result.error
        assert summary(rt)["performed"] == 1
        await rt.stop()
    finally:
        store.close()
