"""``python -m praxis_executor.worker``: JSON-lines events out, control lines in, across a real process boundary.

The job selects the in-process transport (``"transport": "inprocess"`` with bench config files), so the worker
runs the simulated bench itself and no NATS is needed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from praxis_executor.worker.protocol import parse_report

ROOT = Path(__file__).resolve().parents[3]
SIM_BENCH = ROOT / "deploy" / "benches" / "sim-bench.yaml"
BENCH = "sim-bench-1"

CHATTY = """
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.resources import Plate, TipRack, Trough

async def transfer(lh: LiquidHandler, tips: TipRack, trough: Trough, plate: Plate, volume_ul: float = 25.0):
    print("hello from the protocol")
    await lh.pick_up_tips([tips.get_item("A1")])
    await lh.aspirate([trough], vols=[volume_ul])
    await lh.dispense([plate.get_item("B2")], vols=[volume_ul])
    await lh.drop_tips([tips.get_item("A1")])
    return {"done": True}
"""

FAILING = """
from pylabrobot.liquid_handling import LiquidHandler

async def transfer(lh: LiquidHandler, tips, trough, plate, volume_ul: float = 25.0):
    raise RuntimeError("out of coffee")
"""


def job(source: str, **overrides: Any) -> dict[str, Any]:
    def asset(requirement: str, resource: str | None = None) -> dict[str, Any]:
        kind = "machine" if resource is None else "resource"
        return {"requirement": requirement, "kind": kind, "bench_id": BENCH, "machine": "lh", "resource": resource}

    return {
        "run_id": "run-process",
        "source": source,
        "filename": "transfer.py",
        "function": "transfer",
        "parameters": {"volume_ul": 30.0},
        "assignment": {
            "assets": [asset("lh"), asset("tips", "tips_01"), asset("trough", "trough_01"), asset("plate", "plate_03")]
        },
        "transport": "inprocess",
        "inprocess_transport": "praxis_hardware_agent.adapters.inprocess:InProcessBenchTransport",
        "bench_configs": [str(SIM_BENCH)],
        **overrides,
    }


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, tmp_path: Path, spec: dict[str, Any] | str) -> Worker:
        path = tmp_path / "job.json"
        path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "praxis_executor.worker",
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def send(self, control: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(control).encode() + b"\n")
        await self.proc.stdin.drain()

    async def next_event(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
        assert line, "the worker closed stdout without a finished event"
        parse_report(line)  # every stdout line is a typed report of the worker protocol
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    async def until(self, kind: str) -> dict[str, Any]:
        while (event := await self.next_event())["type"] != kind:
            pass
        return event

    async def finish(self) -> tuple[dict[str, Any], str]:
        finished = await self.until("finished")
        assert self.proc.stdout is not None and self.proc.stderr is not None
        assert await self.proc.stdout.read() == b"", "nothing may follow the finished event"
        stderr = (await self.proc.stderr.read()).decode()
        assert await asyncio.wait_for(self.proc.wait(), timeout=30) == 0
        return finished, stderr


async def test_a_run_reports_calls_and_outputs_as_json_lines(tmp_path: Path) -> None:
    worker = await Worker.start(tmp_path, job(CHATTY))
    finished, stderr = await worker.finish()

    assert worker.events[0]["type"] == "started" and worker.events[0]["pid"] == worker.proc.pid
    calls = [e for e in worker.events if e["type"] == "call"]
    assert [c["method"] for c in calls] == ["pick_up_tips", "aspirate", "dispense", "drop_tips"]
    assert [c["sequence"] for c in calls] == [1, 2, 3, 4]
    assert calls[1]["summary"] == {"resources": ["trough_01"], "volumes": [30.0], "channels": [0]}
    assert calls[2]["state_diff"]["volumes"]["plate_03_well_B2"] == {"before": 0.0, "after": 30.0}
    assert all(c["ok"] and c["bench_id"] == BENCH and c["duration_ms"] >= 0 for c in calls)

    assert finished["status"] == "completed" and finished["error"] is None
    assert finished["outputs"]["result"] == {"done": True}
    assert finished["outputs"]["well_volumes"]["plate_03"]["B2"] == 30.0
    assert "hello from the protocol" in stderr  # the protocol's print went to stderr, not into the events


async def test_pause_then_cancel_over_stdin(tmp_path: Path) -> None:
    worker = await Worker.start(tmp_path, job(CHATTY))
    await worker.send({"type": "pause"})
    await worker.until("paused")  # held at the checkpoint of the first machine call
    await worker.send({"type": "cancel", "reason": "operator stopped it"})
    finished, _ = await worker.finish()
    assert finished["status"] == "cancelled" and "operator stopped it" in finished["error"]
    assert [e for e in worker.events if e["type"] == "call"] == []


async def test_a_raising_protocol_reports_failed_with_its_traceback(tmp_path: Path) -> None:
    worker = await Worker.start(tmp_path, job(FAILING))
    finished, _ = await worker.finish()
    assert finished["status"] == "failed"
    assert finished["error"] == "RuntimeError: out of coffee"
    assert 'File "transfer.py", line 5' in finished["traceback"]
    assert 'raise RuntimeError("out of coffee")' in finished["traceback"]


async def test_an_invalid_job_file_still_ends_with_a_finished_event(tmp_path: Path) -> None:
    worker = await Worker.start(tmp_path, json.dumps({"run_id": "x"}))
    finished, _ = await worker.finish()
    assert finished["status"] == "failed" and "invalid job file" in finished["error"]
