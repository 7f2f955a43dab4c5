"""The end-to-end tier: every service started from its console script, against the session's real NATS and
Postgres, with the simulated bench of ``deploy/benches/sim-bench.yaml``. Tests talk to the gateway only."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from praxis_testkit.databases import create_database, drop_database
from praxis_testkit.plugin import SecuredNats
from praxis_testkit.servers import NatsServer
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
    roles: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    admin_creds: Path | None = None
    """Credentials a test uses to watch or play a part on an authorized NATS (never the services')."""

    async def nats(self) -> Any:
        import nats

        options = {"user_credentials": str(self.admin_creds)} if self.admin_creds else {}
        return await nats.connect(self.env["PRAXIS_NATS_URL"], **options)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)

    def start(self, name: str, *, label: str | None = None, env: dict[str, str] | None = None) -> ServiceProcess:
        """Start service ``name`` (again); ``label`` tells replicas apart (``executor-b``), ``env`` is theirs."""
        label = label or name
        name, extra = self.roles.get(label, (name, env or {}))
        args = ["serve"]
        if name == "hardware-agent":
            args += ["--bench-id", BENCH_ID, "--config", str(BENCH_CONFIG)]
        log_name = f"{label}-{len(self.services.processes)}"
        proc = self.services.start(f"praxis-{name}", args, {**self.env, **extra}, log_name=log_name)
        self.procs[label] = proc
        self.roles[label] = (name, extra)
        return proc

    def stop(self, label: str) -> None:
        self.procs[label].stop()

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        """Signal the service's main process only (its workers, in their own sessions, are not touched)."""
        proc = self.procs[label]
        assert proc.pid is not None
        os.kill(proc.pid, sig)
        proc.wait(30)

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log_tail(40)}" for n, p in self.procs.items())


def boot_stack(
    nats_url: str,
    database_url: str,
    work: Path,
    *,
    executors: dict[str, dict[str, str]] | None = None,
    secured: SecuredNats | None = None,
) -> Stack:
    """Migrate, then start every service (``executors``: label -> env of each executor replica). With ``secured``
    every service connects with its own NATS credentials and the executor mints each run worker's."""
    port = _free_port()
    env = {
        "PRAXIS_NATS_URL": nats_url,
        "PRAXIS_DATABASE_URL": database_url,
        "PRAXIS_GATEWAY_PORT": str(port),
        "PRAXIS_EXECUTOR_WORK_DIR": str(work / "executor"),
        "PRAXIS_EXECUTOR_INSTANCE": "executor-e2e",
        "PRAXIS_AGENT_STATE_DIR": str(work / "agent"),
        "PRAXIS_AGENT_HEARTBEAT_S": "1",
        "PRAXIS_LOG_JSON": "false",
    }
    if secured is not None:
        for svc in ("discovery", "scheduler", "executor", "gateway"):
            env[f"PRAXIS_{svc.upper()}_NATS_CREDS"] = str(secured.creds(svc))
        env["PRAXIS_AGENT_NATS_CREDS"] = str(secured.creds(f"agent-{BENCH_ID}"))
        env["PRAXIS_EXECUTOR_WORKER_SIGNER"] = str(secured.worker_signer)
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
    stack.admin_creds = secured.admin_creds if secured is not None else None
    try:
        for name in ("discovery", "scheduler", "hardware-agent", "gateway"):
            stack.start(name)
        for label, extra in (executors or {"executor": {}}).items():
            stack.start("executor", label=label, env=extra)
        try:
            wait_for_sync(lambda: _healthy(stack), timeout=90, message="stack never became healthy")
        except TimeoutError as exc:
            pytest.fail(f"{exc}\n{stack.logs()}")
    except BaseException:
        services.stop_all()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(secured_nats: SecuredNats, pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shared stack, on a NATS server that enforces every identity's permissions (as ``make run`` does).

    It has a database of its own: the session's shared one holds what service-level tests left behind (benches
    nobody serves, for one), which the stack's scheduler would otherwise place runs on."""
    name = f"praxis_e2e_{secrets.token_hex(4)}"
    database_url = create_database(pg_admin_dsn, name)
    try:
        booted = boot_stack(secured_nats.url, database_url, tmp_path_factory.mktemp("e2e"), secured=secured_nats)
        try:
            yield booted
        finally:
            booted.services.stop_all()
    finally:
        drop_database(pg_admin_dsn, name)


def _os_env() -> dict[str, str]:
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


TERMINAL = {"completed", "failed", "cancelled", "rejected"}


@dataclass
class Runs:
    """What every end-to-end test does through the gateway: upload, submit, wait, read the whole journal."""

    api: httpx.Client

    def upload(self, path: Path) -> dict[str, Any]:
        response = self.api.post("/api/v1/protocols", files={"file": (path.name, path.read_bytes(), "text/x-python")})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def submit(self, protocol_id: str, parameters: dict[str, Any] | None = None) -> str:
        response = self.api.post(
            "/api/v1/runs", json={"protocol_id": protocol_id, "parameters": parameters or {}, "simulate": True}
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def get(self, run_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0})
        return dict(response.json()) if response.status_code == 200 else {}

    def wait_status(self, run_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            run = self.get(run_id)
            return run if run.get("status") in statuses else None

        return wait_for_sync(reached, timeout=timeout, message=f"run {run_id} never reached {statuses}")

    def wait_steps(self, run_id: str, at_least: int, timeout: float = 120) -> None:
        wait_for_sync(
            lambda: self.get(run_id).get("steps_total", 0) >= at_least,
            timeout=timeout,
            message=f"run {run_id} did not reach step {at_least}",
        )

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The whole journal, page by page."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.api.get(f"/api/v1/runs/{run_id}", params={"steps_after": len(out), "steps_limit": 1000})
            assert page.status_code == 200, page.text
            batch = page.json()["steps"]
            if not batch:
                return out
            out.extend(batch)

    def events(self, run_id: str) -> list[dict[str, Any]]:
        async def collect() -> list[dict[str, Any]]:
            import websockets

            url = self.api.base_url.copy_with(scheme="ws", path=f"/api/v1/runs/{run_id}/events")
            frames = []
            async with websockets.connect(str(url)) as ws:
                async for frame in ws:
                    frames.append(json.loads(frame))
                    if frames[-1]["type"] == "RunFinished":
                        break
            return frames

        return asyncio.run(asyncio.wait_for(collect(), timeout=60))


@pytest.fixture
def runs(api: httpx.Client) -> Runs:
    return Runs(api)


def worker_pids(run_id: str) -> list[int]:
    """Worker processes of a run, found by their job file (``<work dir>/<run id>/job.json``) in /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"praxis_executor.worker" in cmdline and any(f"/{run_id}/job.json".encode() in a for a in cmdline):
            pids.append(int(entry.name))
    return pids


def agent_calls(stack: Stack, run_id: str) -> dict[str, Any]:
    """The agent's own record of what it performed for a run (``praxis-hardware-agent calls --json``)."""
    done = subprocess.run(
        [
            str(console_script("praxis-hardware-agent")),
            "calls",
            "--state-dir",
            stack.env["PRAXIS_AGENT_STATE_DIR"],
            "--bench-id",
            BENCH_ID,
            "--run",
            run_id,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)["runs"].get(run_id, {})
    return report


@pytest.fixture
def agent_record(stack: Stack) -> Callable[[str], dict[str, Any]]:
    return lambda run_id: agent_calls(stack, run_id)


@pytest.fixture
def find_workers() -> Callable[[str], list[int]]:
    return worker_pids


REPLICAS = ("executor-a", "executor-b")


@pytest.fixture(scope="module")
def replica_stack(pg_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own (own NATS, own database) with two executor replicas and short leases."""
    work = tmp_path_factory.mktemp("replicas")
    name = f"praxis_replicas_{secrets.token_hex(4)}"
    database_url = create_database(pg_admin_dsn, name)
    executors = {
        label: {
            "PRAXIS_EXECUTOR_INSTANCE": label,
            "PRAXIS_EXECUTOR_LEASE_TTL_S": "4",
            "PRAXIS_EXECUTOR_LEASE_RENEW_S": "1",
        }
        for label in REPLICAS
    }
    try:
        with NatsServer(log_file=work / "nats.log") as nats:
            booted = boot_stack(nats.url, database_url, work, executors=executors)
            try:
                yield booted
            finally:
                booted.services.stop_all()
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def replica_api(replica_stack: Stack) -> Iterator[httpx.Client]:
    with replica_stack.client() as client:
        yield client


@pytest.fixture
def agent_calls_fn() -> Callable[[Stack, str], dict[str, Any]]:
    return agent_calls


@pytest.fixture(scope="session")
def boot() -> Callable[..., Stack]:
    """``boot(nats_url, database_url, work, executors=...)``: a stack of a test module's own."""
    return boot_stack
