"""ServiceProcess/ServiceStack with the venv's own ``python`` as a stand-in service."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from praxis_testkit.services import ServiceProcess, ServiceStack, console_script
from praxis_testkit.waiting import wait_for_sync

# Prints its env, says "ready", and exits 0 on SIGTERM like a well-behaved service.
SERVICE = """
import os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("nats", os.environ.get("PRAXIS_NATS_URL"))
print("ready", flush=True)
while True:
    signal.pause()
"""

STUBBORN = """
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    signal.pause()
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_service_process_starts_logs_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = ServiceProcess("python", ["-c", SERVICE], {"PRAXIS_NATS_URL": "nats://x:1"}, tmp_path, log_name="svc")
    proc.start()
    assert proc.alive
    wait_for_sync(lambda: "ready" in proc.log_text(), message="service to print ready")
    assert "nats nats://x:1" in proc.log_text()
    assert proc.log_path == tmp_path / "svc.log"
    assert proc.stop(timeout=10) == 0
    assert not proc.alive


def test_service_process_is_killed_when_it_ignores_sigterm(tmp_path: Path) -> None:
    with ServiceProcess("python", ["-c", STUBBORN], log_dir=tmp_path) as proc:
        wait_for_sync(lambda: "ready" in proc.log_text())
        assert proc.stop(timeout=0.2) == -signal.SIGKILL
        assert proc.pid is not None and _gone(proc.pid)


def test_service_stack_stops_everything(tmp_path: Path) -> None:
    with ServiceStack(tmp_path, {"PRAXIS_NATS_URL": "nats://stack:1"}) as stack:
        a = stack.start("python", ["-c", SERVICE], log_name="a")
        b = stack.start("python", ["-c", "import sys; sys.exit(3)"], log_name="b")
        wait_for_sync(lambda: b in stack.dead(), message="b to exit")
        assert b.returncode == 3
        wait_for_sync(lambda: "nats://stack:1" in a.log_text())
    assert not a.alive
    assert a.pid is not None and _gone(a.pid)


def test_missing_console_script_has_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="uv sync"):
        console_script("praxis-does-not-exist")
