"""The end-to-end tier: every service started from its console script, against the session's real NATS and
Postgres, with the simulated bench of ``deploy/benches/sim-bench.yaml``. Tests talk to the gateway only."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from praxis_testkit.services import ServiceProcess, ServiceStack, console_script
from praxis_testkit.waiting import wait_for_sync

ROOT = Path(__file__).resolve().parents[2]
BENCH_CONFIG = ROOT / "deploy" / "benches" / "sim-bench.yaml"
BENCH_ID = "sim-bench-1"
DB_SERVICES = ("discovery", "scheduler", "executor", "gateway")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    services: ServiceStack
    procs: dict[str, ServiceProcess]
    base_url: str
    env: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)

    def start(self, name: str) -> ServiceProcess:
        args = ["serve"]
        if name == "hardware-agent":
            args += ["--bench-id", BENCH_ID, "--config", str(BENCH_CONFIG)]
        proc = self.services.start(f"praxis-{name}", args, self.env, log_name=f"{name}-{len(self.services.processes)}")
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        self.procs[name].stop()

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log_tail(40)}" for n, p in self.procs.items())


@pytest.fixture(scope="session")
def stack(nats_url: str, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    env = {
        "PRAXIS_NATS_URL": nats_url,
        "PRAXIS_DATABASE_URL": pg_dsn,
        "PRAXIS_GATEWAY_PORT": str(port),
        "PRAXIS_EXECUTOR_WORK_DIR": str(work / "executor"),
        "PRAXIS_AGENT_HEARTBEAT_S": "1",
        "PRAXIS_LOG_JSON": "false",
    }
    for name in DB_SERVICES:
        done = subprocess.run(
            [str(console_script(f"praxis-{name}")), "migrate"],
            env={**_os_env(), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"praxis-{name} migrate failed:\n{done.stdout}\n{done.stderr}"
    services = ServiceStack(work / "logs", env, cwd=ROOT)
    stack = Stack(services, {}, f"http://127.0.0.1:{port}", env)
    try:
        for name in ("discovery", "scheduler", "executor", "hardware-agent", "gateway"):
            stack.start(name)
        try:
            wait_for_sync(lambda: _healthy(stack), timeout=90, message="stack never became healthy")
        except TimeoutError as exc:
            pytest.fail(f"{exc}\n{stack.logs()}")
        yield stack
    finally:
        services.stop_all()


def _os_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _healthy(stack: Stack) -> bool:
    dead = stack.services.dead()
    if dead:
        raise AssertionError(f"{[p.name for p in dead]} died:\n{stack.logs()}")
    try:
        return httpx.get(f"{stack.base_url}/api/v1/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client
