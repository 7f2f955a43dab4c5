"""DevStack against fake service scripts (real NATS/Postgres from the testkit fixtures)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import praxis_testkit.services as services_module
from praxis_devstack.config import DevConfig
from praxis_devstack.errors import DevStackError
from praxis_devstack.stack import DevStack
from praxis_devstack.try_run import try_protocol
from praxis_testkit.servers import free_port

FAKE = Path(__file__).with_name("fake_service.py")
SERVICES = ("discovery", "scheduler", "executor", "gateway", "hardware-agent")


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Executable ``praxis-<svc>`` stand-ins, found instead of the real console scripts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    source = FAKE.read_text()
    for svc in SERVICES:
        script = bin_dir / f"praxis-{svc}"
        script.write_text(f"#!{sys.executable}\n{source}")
        script.chmod(0o755)
    real = services_module.console_script

    def lookup(name: str) -> Path:
        candidate = bin_dir / name
        return candidate if candidate.exists() else real(name)

    monkeypatch.setattr(services_module, "console_script", lookup)
    return bin_dir


@pytest.fixture
def stack(tmp_path: Path, nats_url: str, pg_dsn: str, fake_bin: Path) -> Iterator[DevStack]:
    config = DevConfig(
        root=tmp_path, nats_port=0, pg_port=0, gateway_port=free_port(), nats_url=nats_url, database_url=pg_dsn
    )
    dev = DevStack(config)
    try:
        yield dev
    finally:
        dev.stop()


def _pids(dev: DevStack) -> list[int]:
    assert dev.services is not None
    return [p.pid for p in dev.services.processes if p.pid is not None]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_stack_migrates_serves_answers_try_and_stops(stack: DevStack, tmp_path: Path) -> None:
    stack.start_servers()
    stack.migrate()
    stack.start_services()
    stack.wait_healthy(deadline=30)
    logs = stack.config.logs_dir
    assert "migrate" in (logs / "scheduler-migrate.log").read_text()
    agent_log = (logs / "hardware-agent.log").read_text()
    assert "--bench-id', 'sim-bench-1'" in agent_log and "sim-bench.yaml" in agent_log
    assert f"db={stack.config.database_url}" in agent_log

    protocol = tmp_path / "p.py"
    protocol.write_text("def run(ctx):\n    pass\n")
    ok = await try_protocol("p.py", protocol.read_bytes(), {"n": 3}, stack.config.gateway_url, timeout=30)
    bad = await try_protocol("p.py", protocol.read_bytes(), {"fail": True}, stack.config.gateway_url, timeout=30)
    assert (ok, bad) == (0, 1)

    pids = _pids(stack)
    assert len(pids) == 5
    stack.stop()
    assert all(_gone(pid) for pid in pids)


def test_failed_migration_shows_the_log_tail(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FAIL", "executor-migrate")
    stack.start_servers()
    with pytest.raises(DevStackError, match=r"praxis-executor migrate` failed with exit code 3") as info:
        stack.migrate()
    assert "executor: simulated failure" in str(info.value)


def test_service_crash_is_detected_with_log_tail(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FAIL", "scheduler-serve")
    stack.start_servers()
    stack.start_services()
    with pytest.raises(DevStackError, match=r"scheduler exited with code 3") as info:
        stack.wait_healthy(deadline=30)
    assert "scheduler: simulated failure" in str(info.value)
    pids = _pids(stack)
    stack.stop()
    assert all(_gone(pid) for pid in pids)


def test_busy_gateway_port_names_the_env_var(stack: DevStack) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", stack.config.gateway_port))
        sock.listen()
        with pytest.raises(DevStackError, match="PRAXIS_DEV_GATEWAY_PORT") as info:
            stack.check_ports(with_gateway=True)
    assert info.value.exit_code == 2
