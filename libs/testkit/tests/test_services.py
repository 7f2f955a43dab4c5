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
    """Not running: no such process, or a zombie (dead; init reaps orphans only now and then)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except ProcessLookupError:
        return True
    except OSError:
        return True  # exited between the two checks
    return state == "Z"


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


# Forks a sleeper into its own process group (as the executor forks run workers), then serves.
FORKING = """
import signal, subprocess, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print("child", child.pid, flush=True)
while True:
    signal.pause()
"""


def test_restart_appends_to_the_log_after_a_marker_and_kills_the_old_group(tmp_path: Path) -> None:
    proc = ServiceProcess("python", ["-c", FORKING], log_dir=tmp_path, log_name="svc").start()
    try:
        first_child = wait_for_sync(proc.group_pids, message="the forked child")[0]
        assert f"child {first_child}" in proc.log_text()
        with pytest.raises(RuntimeError, match="still running"):
            proc.restart()
        first_pid = proc.pid
        proc.send_signal(signal.SIGKILL)
        wait_for_sync(lambda: not proc.alive, message="the service to die")
        assert proc.returncode == -signal.SIGKILL
        with pytest.raises(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

        proc.restart("second run")
        assert proc.alive and proc.pid != first_pid and proc.restarts == 1
        # What the dead run forked does not outlive it (once SIGKILLed, init reaps it).
        wait_for_sync(lambda: _gone(first_child), message="the old run's child to be killed")
        second_child = wait_for_sync(proc.group_pids, message="the new run's child")[0]
        wait_for_sync(lambda: proc.log_text().count("child ") == 2, message="both runs logged")
        text = proc.log_text()
        first, marker, second = text.partition("----- second run -----\n")
        assert marker and f"child {first_child}" in first and f"child {second_child}" in second
        proc.send_signal(signal.SIGTERM)
        wait_for_sync(lambda: not proc.alive, message="the service to exit")
        proc.restart()
        assert "restart #2 of python at " in proc.log_text()
    finally:
        proc.stop(timeout=10)
    wait_for_sync(lambda: _gone(second_child), message="the last run's child to be killed")


def test_group_pids_is_empty_before_start(tmp_path: Path) -> None:
    assert ServiceProcess("python", log_dir=tmp_path).group_pids() == []
