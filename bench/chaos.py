"""Crash drill: kill -9 every part of a running stack, in turn, in the middle of long runs, and check that every
machine call was performed exactly once and every run completed with the journal of an undisturbed run.

It starts a stack of its own (its own NATS, Postgres, ports and data dir, so it runs beside ``make run``), with
the same supervision ``make run`` has (a killed service is restarted with backoff). It uploads
``bench/protocols/chaos_mix.py`` (2 + 4 x rounds machine calls), runs it once undisturbed, then runs it again
and again, and during each run kills, at random steps: the run's worker, the executor, the hardware agent, the
scheduler, the gateway, and NATS itself (restarted on the same port and store). Afterwards it checks, from the
hardware agent's own record of what it performed, that each call of each run was performed exactly once, and
from the executor's journal that the run's calls are the undisturbed run's calls.

    .venv/bin/python bench/chaos.py --quick     # 2 runs, 6 kills (one of each kind): about a minute
    .venv/bin/python bench/chaos.py             # 6 runs, up to 24 kills

The last line printed is one JSON object:
``{"runs", "kills", "completed", "duplicated_calls", "lost_calls", "parked", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import command_line, machine, write_section  # noqa: E402

PROTOCOL = ROOT / "bench" / "protocols" / "chaos_mix.py"
BENCH_ID = "sim-bench-1"
PINS = {
    "lh": f"{BENCH_ID}/lh",
    "plate": f"{BENCH_ID}/lh/plate_01",
    "tips": f"{BENCH_ID}/lh/tips_01",
    "trough": f"{BENCH_ID}/lh/trough_01",
}
TARGETS = ("worker", "executor", "agent", "scheduler", "gateway", "nats")
SERVICE_OF = {"executor": "executor", "agent": "hardware-agent", "scheduler": "scheduler", "gateway": "gateway"}
ENDED = {"completed", "failed", "cancelled", "rejected", "needs_operator"}
STALL_S = 5.0  # a run whose record has not moved this long may have ended: then the gateway is asked


def say(message: str) -> None:
    print(f"chaos: {message}", flush=True)


@dataclass
class Tally:
    runs: int = 0
    kills: int = 0
    completed: int = 0
    duplicated_calls: int = 0
    lost_calls: int = 0
    parked: int = 0
    journal_mismatches: int = 0
    kills_by_target: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Drill:
    def __init__(self, stack: Any, gateway_url: str, rounds: int, rng: random.Random) -> None:
        self.stack = stack
        self.api = httpx.Client(base_url=gateway_url, timeout=10)
        self.rounds = rounds
        self.calls = 2 + 4 * rounds
        self.rng = rng
        self.record = stack.config.agent_state_dir / f"{BENCH_ID}.sqlite3"

    # ---------------------------------------------------------------------------------------- the gateway

    def retry(self, what: str, fn: Callable[[], httpx.Response], timeout: float = 120) -> httpx.Response:
        """The gateway (or a service behind it) may be restarting right now: ask again until it answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = fn()
                if response.status_code < 500:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: no answer within {timeout:.0f} s ({last})")
            time.sleep(0.2)

    def upload(self) -> str:
        files = {"file": (PROTOCOL.name, PROTOCOL.read_bytes(), "text/x-python")}
        response = self.retry("upload", lambda: self.api.post("/api/v1/protocols", files=files))
        response.raise_for_status()
        return str(response.json()["id"])

    def submit(self, protocol_id: str) -> str:
        body = {"protocol_id": protocol_id, "parameters": {"rounds": self.rounds}, "pins": PINS, "simulate": True}
        response = self.retry("submit", lambda: self.api.post("/api/v1/runs", json=body))
        response.raise_for_status()
        return str(response.json()["id"])

    def status(self, run_id: str) -> str:
        response = self.retry("status", lambda: self.api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0}))
        return str(response.json().get("status", "unknown")) if response.status_code == 200 else "unknown"

    def status_now(self, run_id: str) -> str | None:
        """One question, no waiting: while the gateway restarts, the drill goes on watching the agent's record
        (waiting for the gateway there let a run finish before the next planned kill)."""
        try:
            response = self.api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0}, timeout=1)
        except httpx.HTTPError:
            return None
        return str(response.json().get("status", "unknown")) if response.status_code == 200 else None

    def wait_ended(self, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(run_id)) not in ENDED:
            if time.monotonic() > deadline:
                return f"stuck in {status}"
            time.sleep(0.2)
        return status

    def journal(self, run_id: str) -> list[tuple[int, str, str, Any]]:
        steps: list[dict[str, Any]] = []
        while True:
            response = self.retry(
                "journal",
                lambda: self.api.get(f"/api/v1/runs/{run_id}/steps", params={"after": len(steps), "limit": 1000}),
            )
            page = response.json()
            steps.extend(page["steps"])
            if page["next_after"] is None:
                return [(s["step"], s["machine"], s["method"], s["args"]) for s in steps]

    # ---------------------------------------------------------------------------------------- the agent's record

    def performed(self, run_id: str) -> list[int]:
        """Sequences the agent invoked a backend for, one entry per invocation (read-only, beside the agent)."""
        if not self.record.exists():
            return []
        with closing(sqlite3.connect(f"file:{self.record}?mode=ro", uri=True, timeout=5)) as db:
            try:
                rows = db.execute("SELECT sequence FROM performed WHERE run_id = ?", (run_id,)).fetchall()
            except sqlite3.OperationalError:  # the agent has not created its tables yet
                return []
        return [int(r[0]) for r in rows]

    def wait_progress(self, run_id: str, beyond: int, timeout: float = 180) -> int:
        deadline = time.monotonic() + timeout
        last, moved_at = -1, time.monotonic()
        while True:
            done = max(self.performed(run_id), default=0)
            if done > beyond or done >= self.calls:
                return done
            if done != last:
                last, moved_at = done, time.monotonic()
            # A completed run shows in the record; only one that stopped moving for a while (parked or failed) is
            # worth asking the gateway about. Asking on every turn, or soon after a kill, blocked this loop on
            # answers slowed by the restart while the run went past the next planned kill.
            elif time.monotonic() - moved_at > STALL_S and self.status_now(run_id) in ENDED:
                return done
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} made no progress past step {beyond} in {timeout:.0f} s")
            time.sleep(0.02)

    # ---------------------------------------------------------------------------------------- killing

    def kill(self, target: str, run_id: str) -> bool:
        if target == "nats":
            self.stack.restart_nats()
            return True
        if target == "worker":
            pids = worker_pids(run_id)
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            return bool(pids)
        self.stack.kill(SERVICE_OF[target], signal.SIGKILL)
        return True

    def run_once(self, protocol_id: str, targets: list[str], tally: Tally, expected: list[Any]) -> None:
        run_id = self.submit(protocol_id)
        # Kills fall in the first three quarters of the run: a run can finish a dozen calls in the time a busy
        # 2-core machine takes to let this loop look again, and a kill planned after its end is not made.
        steps = sorted(self.rng.sample(range(5, self.calls * 3 // 4), len(targets)))
        say(f"run {run_id}: killing {', '.join(f'{t}@{s}' for t, s in zip(targets, steps, strict=True))}")
        for target, step in zip(targets, steps, strict=True):
            reached = self.wait_progress(run_id, step)
            if reached >= self.calls:
                break
            if self.kill(target, run_id):
                tally.kills += 1
                tally.kills_by_target[target] = tally.kills_by_target.get(target, 0) + 1
                say(f"  killed {target} at step {reached}")
        self.check(run_id, tally, expected)

    def check(self, run_id: str, tally: Tally, expected: list[Any]) -> None:
        tally.runs += 1
        status = self.wait_ended(run_id)
        performed = self.performed(run_id)
        duplicated = len(performed) - len(set(performed))
        lost = len(set(range(1, self.calls + 1)) - set(performed))
        tally.duplicated_calls += duplicated
        tally.lost_calls += lost
        if status == "completed":
            tally.completed += 1
        elif status == "needs_operator":
            tally.parked += 1
            parked = self.retry("detail", lambda: self.api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0}))
            tally.problems.append(f"run {run_id} parked: {parked.json().get('parked')}")
            # free the bench for the next run: an operator would decide; the drill aborts
            self.retry("abort", lambda: self.api.post(f"/api/v1/runs/{run_id}/recover", json={"choice": "abort"}))
            self.wait_ended(run_id)
        journal = self.journal(run_id) if status == "completed" else []
        if status == "completed" and journal != expected:
            tally.journal_mismatches += 1
            tally.problems.append(f"run {run_id}: journal differs from the undisturbed run")
        if status != "completed" or duplicated or lost:
            tally.problems.append(f"run {run_id}: {status}, {duplicated} duplicated, {lost} lost")
        say(f"run {run_id}: {status}; {len(performed)} calls performed, {duplicated} duplicated, {lost} lost")


def worker_pids(run_id: str) -> list[int]:
    """The run's worker processes, by their job file (``<work dir>/<run id>/job.json``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"praxis_executor.worker" in argv and any(f"/{run_id}/job.json".encode() in a for a in argv):
                found.append(int(entry.name))
    return found


def plan(runs: int, kills_per_run: int) -> list[list[str]]:
    """Targets per run, cycling through every kind so each gets its turn."""
    order = [TARGETS[i % len(TARGETS)] for i in range(runs * kills_per_run)]
    return [order[i * kills_per_run : (i + 1) * kills_per_run] for i in range(runs)]


def start_stack(data_dir: Path) -> Any:
    from praxis_devstack.config import DevConfig
    from praxis_devstack.stack import DevStack
    from praxis_devstack.supervisor import RestartPolicy
    from praxis_testkit.servers import free_port

    env = {
        "PRAXIS_DEV_DATA_DIR": str(data_dir),
        "PRAXIS_DEV_NATS_PORT": str(free_port()),
        "PRAXIS_DEV_PG_PORT": str(free_port()),
        "PRAXIS_DEV_GATEWAY_PORT": str(free_port()),
    }
    for prefix in ("DISCOVERY", "SCHEDULER", "EXECUTOR", "AGENT"):
        os.environ[f"PRAXIS_{prefix}_METRICS_PORT"] = "0"  # no fixed metrics ports: run beside `make run`
    for name in ("PRAXIS_NATS_URL", "PRAXIS_DATABASE_URL"):
        os.environ.pop(name, None)  # the drill restarts NATS: it must be its own
    stack = DevStack(DevConfig.from_env(env, root=ROOT), policy=RestartPolicy(initial_delay=0.5, max_delay=5.0))
    stack.check_ports(with_gateway=True)
    try:
        stack.start_servers()
        stack.migrate()
        stack.start_services()
        stack.wait_healthy(deadline=120)
        stack.supervise_in_background(poll=0.2)
    except BaseException:
        stack.stop()  # whatever started before the failure must not outlive the drill
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 runs, 3 kills each (every kind of kill once)")
    parser.add_argument("--runs", type=int, help="disturbed runs (default 6, --quick 2)")
    parser.add_argument("--kills-per-run", type=int, help="kills per run (default 4, --quick 3)")
    parser.add_argument("--rounds", type=int, default=40, help="protocol rounds: 2 + 4 x rounds calls (default 40)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill steps")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--keep", metavar="DIR", help="keep the stack's data and logs in DIR (default: a temp dir)")
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 6)
    kills_per_run = args.kills_per_run or (3 if args.quick else 4)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    tally = Tally()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="praxis-chaos-") as tmp:
        data_dir = Path(args.keep).resolve() if args.keep else Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o755)  # Postgres runs as its own OS user and must reach its data dir
        stack = start_stack(data_dir)
        try:
            drill = Drill(stack, stack.config.gateway_url, args.rounds, random.Random(seed))
            protocol_id = drill.upload()
            baseline = drill.submit(protocol_id)
            status = drill.wait_ended(baseline)
            if status != "completed":
                raise RuntimeError(f"the undisturbed run ended {status}")
            expected = drill.journal(baseline)
            say(f"undisturbed run {baseline}: {len(expected)} calls")
            for targets in plan(runs, kills_per_run):
                drill.run_once(protocol_id, targets, tally, expected)
            if stack.supervision_error is not None:
                tally.problems.append(f"supervision: {stack.supervision_error}")
        finally:
            stack.stop()
    result = {
        "runs": tally.runs,
        "kills": tally.kills,
        "completed": tally.completed,
        "duplicated_calls": tally.duplicated_calls,
        "lost_calls": tally.lost_calls,
        "parked": tally.parked,
        "journal_mismatches": tally.journal_mismatches,
        "calls_per_run": 2 + 4 * args.rounds,
        "kills_by_target": tally.kills_by_target,
        "seed": seed,
        "seconds": round(time.monotonic() - started, 1),
    }
    for problem in tally.problems:
        say(f"PROBLEM: {problem}")
    if not args.no_docs:
        write_docs(result)
    print(json.dumps(result), flush=True)
    ok = tally.completed == tally.runs and not tally.duplicated_calls and not tally.lost_calls
    return 0 if ok and not tally.journal_mismatches else 1


def write_docs(result: dict[str, Any]) -> None:
    facts = machine()
    body = f"""## Crash drill (`bench/chaos.py`)

Reproduce: `{command_line()}`

Measured {time.strftime("%Y-%m-%d")} on {facts["cpus"]} CPUs, Python {facts["python"]}: a stack of its own with
`make run`'s supervision; `kill -9` of the run's worker, the executor, the hardware agent, the scheduler, the
gateway and NATS at random steps of {result["runs"]} runs of {result["calls_per_run"]} machine calls each (seed
{result["seed"]}). Exactly once is read from the agent's own record of backend invocations; the journal of each
run is compared with an undisturbed run's.

| runs | kills | completed | duplicated calls | lost calls | parked | journal mismatches | seconds |
|---|---|---|---|---|---|---|---|
| {result["runs"]} | {result["kills"]} | {result["completed"]} | {result["duplicated_calls"]} | {result["lost_calls"]} | {result["parked"]} | {result["journal_mismatches"]} | {result["seconds"]} |

Kills by target: {", ".join(f"{k} {v}" for k, v in sorted(result["kills_by_target"].items()))}.
"""
    write_section("chaos", body)


if __name__ == "__main__":
    sys.exit(main())
