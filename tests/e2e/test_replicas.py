"""Two executor replicas (subprocesses, as Kubernetes runs them), one owner per run.

Control sent to either replica reaches the run's owner; killing the owner hands its run to the other replica once
the lease runs out; a replica starting while a run is active does not start it a second time; and at no moment do
two workers drive one run (sampled from /proc while the runs go on, and proven by the agent's record: every
machine call performed exactly once).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "protocols"
CYCLES = 300
CALLS = 3 + 2 * CYCLES + 1
LONG = 5000  # long enough to still be running after several control round trips
ENDED = {"completed", "failed", "cancelled", "needs_operator", "rejected"}


@pytest.fixture(scope="module")
def long_mix(replica_stack: Any) -> str:
    with replica_stack.client() as api:
        response = api.post(
            "/api/v1/protocols",
            files={"file": ("long_mix.py", (HERE / "long_mix.py").read_bytes(), "text/x-python")},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def submit(api: httpx.Client, protocol_id: str, cycles: int = CYCLES) -> str:
    response = api.post("/api/v1/runs", json={"protocol_id": protocol_id, "parameters": {"cycles": cycles}})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def run_of(api: httpx.Client, run_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0})
    return dict(response.json()) if response.status_code == 200 else {}


class OneWorker:
    """Waits for a condition while checking, at every poll, that no run ever has two workers."""

    def __init__(self, find_workers: Callable[[str], list[int]], run_id: str) -> None:
        self.find_workers, self.run_id, self.max_seen = find_workers, run_id, 0

    def until(self, condition: Callable[[], Any], message: str, timeout: float = 120) -> Any:
        def check() -> Any:
            self.max_seen = max(self.max_seen, len(self.find_workers(self.run_id)))
            assert self.max_seen <= 1, f"run {self.run_id} had {self.max_seen} workers at once"
            return condition()

        return wait_for_sync(check, timeout=timeout, message=message)


def assert_exactly_once(replica_stack: Any, api: httpx.Client, run_id: str, agent_calls: Any) -> None:
    steps: list[dict[str, Any]] = []
    while batch := api.get(f"/api/v1/runs/{run_id}", params={"steps_after": len(steps), "steps_limit": 1000}).json()[
        "steps"
    ]:
        steps.extend(batch)
    assert [s["step"] for s in steps] == list(range(1, CALLS + 1))
    record = agent_calls(replica_stack, run_id)
    assert record["performed"] == CALLS and record["duplicated"] == [], record


def test_control_from_either_replica_reaches_the_owner(
    replica_stack: Any, replica_api: httpx.Client, long_mix: str, find_workers: Any
) -> None:
    run_id = submit(replica_api, long_mix, LONG)
    one = OneWorker(find_workers, run_id)
    one.until(lambda: run_of(replica_api, run_id).get("steps_total", 0) >= 5, "the run did not start")
    for _ in range(3):  # each command is consumed by whichever replica pulls it first
        assert replica_api.post(f"/api/v1/runs/{run_id}/pause").status_code == 202
        one.until(lambda: run_of(replica_api, run_id).get("status") == "paused", "pause never took effect")
        assert replica_api.post(f"/api/v1/runs/{run_id}/resume").status_code == 202
        one.until(lambda: run_of(replica_api, run_id).get("status") == "running", "resume never took effect")
    assert replica_api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    run = one.until(lambda: (r := run_of(replica_api, run_id)).get("status") in ENDED and r, "cancel never landed")
    assert run["status"] == "cancelled", run
    assert replica_api.post(f"/api/v1/runs/{run_id}/resume").status_code == 409


def test_killing_the_owner_hands_the_run_to_the_other_replica(
    replica_stack: Any, replica_api: httpx.Client, long_mix: str, find_workers: Any, agent_calls_fn: Any
) -> None:
    run_id = submit(replica_api, long_mix)
    one = OneWorker(find_workers, run_id)
    one.until(lambda: run_of(replica_api, run_id).get("steps_total", 0) >= 20, "the run did not start")
    owner = run_of(replica_api, run_id)["owner"]
    assert owner in replica_stack.procs, owner
    replica_stack.kill(owner, signal.SIGKILL)
    try:
        run = one.until(
            lambda: (r := run_of(replica_api, run_id)).get("status") in ENDED and r, "the run was not taken over"
        )
        assert run["status"] == "completed", run
        assert run_of(replica_api, run_id)["owner"] is None
        assert_exactly_once(replica_stack, replica_api, run_id, agent_calls_fn)
    finally:
        replica_stack.start("executor", label=owner)


def test_a_replica_starting_mid_run_does_not_start_it_again(
    replica_stack: Any, replica_api: httpx.Client, long_mix: str, find_workers: Any, agent_calls_fn: Any
) -> None:
    run_id = submit(replica_api, long_mix)
    one = OneWorker(find_workers, run_id)
    one.until(lambda: run_of(replica_api, run_id).get("steps_total", 0) >= 10, "the run did not start")
    owner = run_of(replica_api, run_id)["owner"]
    other = next(label for label in replica_stack.procs if label.startswith("executor-") and label != owner)
    replica_stack.stop(other)
    replica_stack.start("executor", label=other)
    run = one.until(lambda: (r := run_of(replica_api, run_id)).get("status") in ENDED and r, "the run never ended")
    assert run["status"] == "completed", run
    assert_exactly_once(replica_stack, replica_api, run_id, agent_calls_fn)
