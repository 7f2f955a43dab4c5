"""Runs you can trust, end to end: a run survives ``kill -9`` of its worker and of the executor, and a graceful
stop of the executor, completing with a gapless journal in which every machine call was performed exactly once
(as the hardware agent's own record shows)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "protocols"
CYCLES = 300
CALLS = 3 + 2 * CYCLES + 1


def assert_exactly_once(runs: Any, agent_record: Callable[[str], dict[str, Any]], run_id: str) -> None:
    steps = runs.steps(run_id)
    assert [s["step"] for s in steps] == list(range(1, CALLS + 1)), "the journal is gapless and has no repeat"
    assert all(s["error"] is None for s in steps)
    record = agent_record(run_id)
    assert record["performed"] == CALLS, record
    assert record["duplicated"] == [] and record["unknown"] == [], record


@pytest.fixture
def long_mix(runs: Any) -> str:
    return str(runs.upload(HERE / "long_mix.py")["id"])


def test_a_killed_worker_is_replaced_and_the_run_completes(
    stack: Any, runs: Any, long_mix: str, find_workers: Callable[[str], list[int]], agent_record: Any
) -> None:
    run_id = runs.submit(long_mix, {"cycles": CYCLES})
    runs.wait_steps(run_id, 20)
    (pid,) = find_workers(run_id)
    os.kill(pid, signal.SIGKILL)
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})
    assert run["status"] == "completed", run
    assert_exactly_once(runs, agent_record, run_id)
    types = [e["type"] for e in runs.events(run_id)]
    assert "RunRecovering" in types


def test_a_killed_executor_comes_back_and_finishes_its_run(
    stack: Any, runs: Any, long_mix: str, find_workers: Callable[[str], list[int]], agent_record: Any
) -> None:
    run_id = runs.submit(long_mix, {"cycles": CYCLES})
    runs.wait_steps(run_id, 20)
    stack.kill("executor", signal.SIGKILL)
    wait_for_sync(lambda: not find_workers(run_id), timeout=10, message="the worker outlived its executor")
    stack.start("executor")
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})
    assert run["status"] == "completed", run
    assert_exactly_once(runs, agent_record, run_id)


def test_a_graceful_stop_hands_the_run_over_instead_of_failing_it(
    stack: Any, runs: Any, long_mix: str, agent_record: Any
) -> None:
    run_id = runs.submit(long_mix, {"cycles": CYCLES})
    runs.wait_steps(run_id, 20)
    assert stack.procs["executor"].stop() == 0  # SIGTERM: suspend the worker between two calls, release the lease
    stack.start("executor")
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})
    assert run["status"] == "completed", run
    assert_exactly_once(runs, agent_record, run_id)
    statuses = [e["event"].get("status") for e in runs.events(run_id) if e["type"] == "RunStatusChanged"]
    assert "failed" not in statuses


def test_a_protocol_that_is_not_deterministic_parks_and_an_operator_ends_it(
    stack: Any, runs: Any, find_workers: Callable[[str], list[int]], agent_record: Any
) -> None:
    protocol = runs.upload(HERE / "nondeterministic.py")
    run_id = runs.submit(protocol["id"], {"cycles": CYCLES})
    runs.wait_steps(run_id, 20)
    for pid in find_workers(run_id):
        os.kill(pid, signal.SIGKILL)
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})
    assert run["status"] == "needs_operator", run
    parked = run["parked"]
    assert parked["kind"] == "divergence" and "not deterministic" in parked["reason"], parked
    assert parked["choices"] == ["retry", "abort"]
    assert runs.api.post(f"/api/v1/runs/{run_id}/recover", json={"choice": "happened"}).status_code == 422
    assert runs.api.post(f"/api/v1/runs/{run_id}/pause").status_code == 409
    assert runs.api.post(f"/api/v1/runs/{run_id}/recover", json={"choice": "abort"}).status_code == 202
    run = runs.wait_status(run_id, {"cancelled", "completed", "failed"})
    assert run["status"] == "cancelled" and f"step {parked['step']}" in run["error"], run
    assert agent_record(run_id)["duplicated"] == []
    assert runs.api.post(f"/api/v1/runs/{run_id}/recover", json={"choice": "abort"}).status_code == 409


def test_a_huge_result_is_kept_apart_and_blocks_nothing(stack: Any, runs: Any, long_mix: str) -> None:
    protocol = runs.upload(HERE / "big_result.py")
    run_id = runs.submit(protocol["id"])
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})
    assert run["status"] == "completed", run
    assert run["outputs_inline"] is False and run["outputs_size"] > 8 * 1024 * 1024, run
    outputs = runs.api.get(f"/api/v1/runs/{run_id}/outputs", timeout=60)
    assert outputs.status_code == 200
    assert len(outputs.json()["result"]["readings"]) == 1_000_000
    events = runs.events(run_id)
    assert events[-1]["type"] == "RunFinished" and events[-1]["event"]["outputs_inline"] is False
    follow = runs.submit(long_mix, {"cycles": 2})  # the outbox carries on behind it
    assert runs.wait_status(follow, {"completed", "failed", "cancelled"})["status"] == "completed"
