"""An agent process killed with SIGKILL while its device acts: the next process, on the same state file, says
OutcomeUnknown for a real machine and performs the call again for a simulated one (whose effect died with it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from praxis_contracts.hardware import CallRefusal, LoadRunDeck, MachineCall
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore
from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.integration

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"
BENCH = "crash-bench"

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from praxis_contracts.hardware import LoadRunDeck, MachineCall
    from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
    from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore

    config, state, machine, marker = sys.argv[1:5]

    async def main() -> None:
        rt = BenchRuntime.from_file(config, store=SqliteCallStore.open(state))

        async def acting(**kwargs: object) -> None:
            Path(marker).write_text("the device is acting")
            await asyncio.Event().wait()  # until SIGKILL

        rt.machines[machine].backend.open = acting
        await rt.setup()
        await rt.load_run_deck(LoadRunDeck(bench_id=rt.bench_id, run_id="run-k"))
        await rt.perform(MachineCall(bench_id=rt.bench_id, run_id="run-k", sequence=1, machine=machine, method="open"))

    asyncio.run(main())
    """
)


@pytest.fixture
def bench_yaml(tmp_path: Path) -> Path:
    reader = yaml.safe_load(SIM_BENCH.read_text())["machines"][1]
    machines: list[dict[str, Any]] = [{**reader, "name": "real", "simulated": False}, {**reader, "name": "sim"}]
    machines[1]["labware"] = [{**lw, "name": f"sim_{lw['name']}"} for lw in reader["labware"]]
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"bench_id": BENCH, "machines": machines}))
    return path


def kill_mid_call(bench_yaml: Path, state: Path, machine: str, tmp_path: Path) -> None:
    marker = tmp_path / f"{machine}.acting"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(bench_yaml), str(state), machine, str(marker)])
    try:
        wait_for_sync(lambda: marker.exists() or child.poll() is not None, timeout=60, message="the child's call")
        assert child.poll() is None, f"the agent child exited with {child.returncode} before its device acted"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)


async def restarted(bench_yaml: Path, state: Path) -> BenchRuntime:
    rt = BenchRuntime.from_file(bench_yaml, store=SqliteCallStore.open(state))
    await rt.setup()
    assert (await rt.load_run_deck(LoadRunDeck(bench_id=BENCH, run_id="run-k"))).ok
    return rt


@pytest.mark.parametrize(("machine", "expected"), [("real", CallRefusal.OUTCOME_UNKNOWN), ("sim", None)])
async def test_a_killed_agent_leaves_a_record_that_tells_the_truth(
    bench_yaml: Path, tmp_path: Path, machine: str, expected: CallRefusal | None
) -> None:
    state = tmp_path / "state" / f"{BENCH}.sqlite3"
    kill_mid_call(bench_yaml, state, machine, tmp_path)
    rt = await restarted(bench_yaml, state)
    try:
        result = await rt.perform(
            MachineCall(bench_id=BENCH, run_id="run-k", sequence=1, machine=machine, method="open")
        )
        (run,) = rt.store.summary("run-k")
        if expected is None:  # simulated: performed by this process, exactly once in the record
            assert result.ok and not result.replayed, result.error
            assert run.as_json() == {"performed": 1, "duplicated": [], "unknown": [], "max_sequence": 1}
        else:
            assert (result.ok, result.error_type) == (False, expected.value)
            assert run.as_json() == {"performed": 0, "duplicated": [], "unknown": [1], "max_sequence": 1}
    finally:
        await rt.stop()
        rt.store.close()
