"""DevStack against fake service scripts (real NATS/Postgres from the testkit fixtures)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

import praxis_testkit.services as services_module
from praxis_devstack.config import DevConfig
from praxis_devstack.errors import DevStackError
from praxis_devstack.stack import DevStack
from praxis_devstack.supervisor import RestartPolicy
from praxis_devstack.try_run import try_protocol
from praxis_servicekit.bus import connect, ensure_streams
from praxis_testkit.servers import free_port
from praxis_testkit.services import ServiceProcess
from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.integration

FAKE = Path(__file__).with_name("fake_service.py")
SERVICES = ("discovery", "scheduler", "executor", "gateway", "hardware-agent")
# Tiny delays so restarts happen within a test; the doubling and the cap are what matters.
FAST = RestartPolicy(initial_delay=0.05, max_delay=0.2, reset_after=30.0, startup_crash_limit=3, poll=0.05)


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
    dev = DevStack(config, policy=FAST)
    try:
        yield dev
    finally:
        dev.stop()


def _pids(dev: DevStack) -> list[int]:
    assert dev.services is not None
    return [p.pid for p in dev.services.processes if p.pid is not None]


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


def test_a_service_crash_looping_at_start_up_fails_the_start(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "scheduler-serve")
    stack.start_servers()
    stack.start_services()
    with pytest.raises(DevStackError, match=r"scheduler exited with code 3 after .*\(3 times in a row") as info:
        # The fake gateway may be healthy before the 3rd exit: a service that never came up is given up then too.
        stack.wait_healthy(deadline=30)
        stack.supervise()
    assert "scheduler: simulated failure" in str(info.value)
    err = capsys.readouterr().err
    assert "restart #1 in 0.05s" in err and "restart #2 in 0.1s (2 exits in a row)" in err
    assert stack.service("scheduler").restarts == 2
    pids = _pids(stack)
    stack.stop()
    assert all(_gone(pid) for pid in pids)


def _restarted(dev: DevStack, name: str, old_pid: int) -> int:
    """Wait until ``name`` runs again under a new PID, and return it."""
    proc = dev.service(name)
    wait_for_sync(lambda: proc.alive and proc.pid != old_pid, timeout=30, message=f"{name} restarted")
    assert proc.pid is not None
    return proc.pid


def _wait_serving(proc: ServiceProcess, runs: int) -> None:
    wait_for_sync(lambda: proc.log_text().count("serving") == runs, message=f"{proc.name} run {runs} serving")


def test_a_killed_service_is_restarted_with_growing_delay_and_nothing_is_left_after_stop(
    stack: DevStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_CHILD", "executor")  # the executor forks a "worker" into its process group
    stack.start_servers()
    stack.start_services()
    stack.wait_healthy(deadline=30)
    stack.supervise_in_background()
    executor = stack.service("praxis-executor")
    worker = wait_for_sync(lambda: executor.group_pids(), message="the executor's worker")[0]
    seen = [worker]

    for run in (2, 3):
        old = stack.kill("executor")
        seen.append(_restarted(stack, "executor", old))
        _wait_serving(executor, runs=run)  # killed before it printed anything, a run would leave no trace
    wait_for_sync(lambda: _gone(worker), message="the dead executor's worker to be killed with it")
    seen += executor.group_pids()

    err = capsys.readouterr().err
    assert "executor was killed by SIGKILL after" in err
    assert "restart #1 in 0.05s" in err and "restart #2 in 0.1s (2 exits in a row)" in err
    assert err.count("--- last 30 lines of") == 1  # the tail only for the first exit of a series
    log = executor.log_text()
    assert log.count("executor serve") == 3 and "restart #1 of executor" in log and "restart #2 of executor" in log
    assert executor.restarts == 2 and stack.supervision_error is None

    seen += _pids(stack)
    stack.stop()
    assert all(_gone(pid) for pid in seen)


def _blocked_signals(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)


def test_a_service_restarted_from_the_main_thread_still_stops_on_sigterm(stack: DevStack) -> None:
    """Regression: supervision once blocked stop signals with a mask the restarted child inherited."""
    stack.start_servers()
    stack.start_services()
    stack.wait_healthy(deadline=30)
    scheduler = stack.service("scheduler")
    old = stack.kill("scheduler")
    wait_for_sync(lambda: stack.supervise_once() or (scheduler.alive and scheduler.pid != old), message="restart")
    _wait_serving(scheduler, runs=2)
    assert scheduler.pid is not None and _blocked_signals(scheduler.pid) == 0
    assert scheduler.stop(timeout=10) == 0  # its own SIGTERM handler ran (not the SIGKILL fallback)


def test_stop_while_a_restart_is_pending_leaves_nothing_running(stack: DevStack) -> None:
    stack.policy = RestartPolicy(initial_delay=30.0, max_delay=30.0, poll=0.05)
    stack.start_servers()
    stack.start_services()
    stack.wait_healthy(deadline=30)
    old = stack.kill("scheduler", signal.SIGTERM)
    wait_for_sync(lambda: not stack.service("scheduler").alive, message="scheduler to exit")
    stack.supervise_once()
    assert stack.supervisor is not None and stack.supervisor.seconds_until_due() is not None
    with pytest.raises(DevStackError, match="not running"):
        stack.kill("scheduler")
    pids = _pids(stack)
    stack.stop()
    assert all(_gone(pid) for pid in [*pids, old])


def test_children_get_stable_identities_and_data_dirs(stack: DevStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAXIS_SCHEDULER_INSTANCE", "sched-blue")
    stack.start_servers()
    env = stack.child_env()
    devdata = stack.config.devdata
    assert env["PRAXIS_EXECUTOR_INSTANCE"] == "executor-1" and env["PRAXIS_GATEWAY_INSTANCE"] == "gateway-1"
    assert env["PRAXIS_DISCOVERY_INSTANCE"] == "discovery-1" and env["PRAXIS_AGENT_INSTANCE"] == "agent-sim-bench-1"
    assert env["PRAXIS_SCHEDULER_INSTANCE"] == "sched-blue"  # set by the caller: kept
    assert env["PRAXIS_EXECUTOR_WORK_DIR"] == str(devdata / "executor")
    assert env["PRAXIS_AGENT_STATE_DIR"] == str(devdata / "agent")


def test_unknown_service_name_is_a_clear_error(stack: DevStack) -> None:
    with pytest.raises(DevStackError, match=r"no service 'nope'.*none started"):
        stack.service("nope")
    with pytest.raises(DevStackError, match="did not start a NATS"):
        stack.restart_nats()


async def test_restart_nats_keeps_a_streams_messages(tmp_path: Path, pg_dsn: str, fake_bin: Path) -> None:
    config = DevConfig(
        root=tmp_path,
        nats_port=free_port(),
        pg_port=0,
        gateway_port=free_port(),
        nats_url=None,
        database_url=pg_dsn,
        data_dir=tmp_path / "drill-data",
    )
    dev = DevStack(config, policy=FAST)
    try:
        url = dev.start_servers().nats_url
        assert dev.nats is not None and (config.devdata / "nats").is_dir()
        old_pid = dev.nats.pid
        creds = dev.credentials_env()["PRAXIS_EXECUTOR_NATS_CREDS"]
        nc = await connect(url, "drill", creds=Path(creds))
        await ensure_streams(nc.jetstream())
        for i in range(3):
            await nc.jetstream().publish("praxis.executor.evt.step_completed.v1", f"m{i}".encode())
        await nc.close()

        assert dev.restart_nats() == url
        assert dev.nats is not None and dev.nats.pid != old_pid and dev.nats.running

        nc = await connect(url, "drill", creds=Path(creds))  # the same credentials after the restart
        info = await nc.jetstream().stream_info("PRAXIS_EXECUTOR_EVT")
        await nc.close()
        assert info.state.messages == 3
        assert "killed with SIGKILL and restarted" in config.nats_log.read_text()
    finally:
        dev.stop()


async def test_our_nats_enforces_permissions_and_each_service_gets_its_credentials(
    tmp_path: Path, pg_dsn: str, fake_bin: Path
) -> None:
    data = tmp_path / "data"
    config = DevConfig(tmp_path, free_port(), 0, free_port(), None, pg_dsn, data_dir=data)
    dev = DevStack(config, policy=FAST)
    try:
        urls = dev.start_servers()
        assert urls.nats_auth == data / "nats-auth"
        env = dev.child_env()
        for svc in ("DISCOVERY", "SCHEDULER", "EXECUTOR", "GATEWAY"):
            assert env[f"PRAXIS_{svc}_NATS_CREDS"] == str(data / "nats-auth" / "creds" / f"{svc.lower()}.creds")
        assert env["PRAXIS_AGENT_NATS_CREDS"].endswith("creds/agent-sim-bench-1.creds")
        assert env["PRAXIS_EXECUTOR_WORKER_SIGNER"] == str(data / "nats-auth" / "worker-signer.nk")
        with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
            await nats.connect(urls.nats_url, allow_reconnect=False)
        nc = await connect(urls.nats_url, "check", creds=Path(env["PRAXIS_SCHEDULER_NATS_CREDS"]))
        await nc.close()
    finally:
        dev.stop()
    seed = (data / "nats-auth" / "operator.nk").read_text()
    dev = DevStack(config, policy=FAST)
    try:
        dev.start_servers()
        assert (data / "nats-auth" / "operator.nk").read_text() == seed
    finally:
        dev.stop()


def test_an_external_nats_gets_no_credentials_and_auth_can_be_switched_off(stack: DevStack, tmp_path: Path) -> None:
    stack.start_servers()  # PRAXIS_NATS_URL-style: the session's plain NATS
    assert stack.credentials_env() == {} and "PRAXIS_SCHEDULER_NATS_CREDS" not in stack.child_env()
    off = DevConfig.from_env({"PRAXIS_DEV_NATS_AUTH": "off"}, root=tmp_path)
    assert not off.nats_auth and DevConfig.from_env({}, root=tmp_path).nats_auth
    with pytest.raises(DevStackError, match="PRAXIS_DEV_NATS_AUTH"):
        DevConfig.from_env({"PRAXIS_DEV_NATS_AUTH": "maybe"}, root=tmp_path)


def test_busy_gateway_port_names_the_env_var(stack: DevStack) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", stack.config.gateway_port))
        sock.listen()
        with pytest.raises(DevStackError, match="PRAXIS_DEV_GATEWAY_PORT") as info:
            stack.check_ports(with_gateway=True)
    assert info.value.exit_code == 2
