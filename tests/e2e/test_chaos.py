"""The crash drill in its quick form: kill -9 of the worker, the executor, the agent, the scheduler, the gateway
and NATS at random steps of long runs; every run completes, every machine call performed exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_quick_crash_drill_completes_every_run_exactly_once() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--quick", "--no-docs"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1])
    report = f"{result}\n{done.stdout[-3000:]}"
    assert result["kills"] >= 6, report
    assert result["completed"] == result["runs"], report
    assert result["duplicated_calls"] == 0 and result["lost_calls"] == 0, report
    assert result["journal_mismatches"] == 0 and result["parked"] == 0, report
    assert done.returncode == 0, report
