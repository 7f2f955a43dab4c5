"""Hostile protocols through the real executor: each tries to do harm and must fail, the run must end with a reason,
and the platform must be as it was (healthy, and the next run completes).

Each protocol reports what it saw in its return value (the run's outputs), so a test asserts the refusal itself,
not only that the run ended. On the bus, a protocol may use the only credentials it can find (its own worker's,
from its job file): they let it do nothing but ask its own benches for its own run's calls.
The whole module needs the full worker sandbox (the executor as root on a Linux with Landlock ABI >= 6); where
the executor reports a layer missing, it is skipped with the executor's own reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from praxis_contracts.common import HealthQuery, HealthReply, health_subject
from praxis_servicekit.queries import request
from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

END = {"completed", "failed", "cancelled", "rejected"}
LAYERS = "uid,landlock-fs,landlock-net,seccomp,rlimits"

PRELUDE = '''
import os
import signal
import socket
import sys

from pylabrobot.liquid_handling import LiquidHandler

from praxis_protocol import protocol


def attempt(fn):
    """What happened when the protocol tried fn: what it got, or the error it was refused with."""
    try:
        return {"ok": True, "value": repr(fn())[:300]}
    except BaseException as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}

'''

BENIGN = """
@protocol(name="benign_MARKER", version="1.0.0", description="does nothing harmful")
async def benign_MARKER(lh: LiquidHandler) -> dict:
    return {"marker": "MARKER"}
"""

ENVIRON = """
@protocol(name="hostile_environ", version="1.0.0", description="reads the executor's environment")
async def hostile_environ(lh: LiquidHandler, executor_pid: int = 0) -> dict:
    def scan():
        return [p for p in os.listdir("/proc") if p.isdigit()
                and b"praxis-executor" in open(f"/proc/{p}/cmdline", "rb").read()]
    return {
        "scan": attempt(scan),
        "executor": attempt(lambda: open(f"/proc/{executor_pid}/environ", "rb").read()),
        "parent": attempt(lambda: open(f"/proc/{os.getppid()}/environ", "rb").read()),
        "own_env": dict(os.environ),
        "uid": os.getuid(),
    }
"""

CONNECT = """
@protocol(name="hostile_connect", version="1.0.0", description="connects where it should not")
async def hostile_connect(lh: LiquidHandler, ports: str = "", unix: str = "") -> dict:
    tcp = {p: attempt(lambda p=p: socket.create_connection(("127.0.0.1", int(p)), timeout=3).close())
           for p in ports.split(",") if p}
    def unix_connect(path):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(3)
        s.connect(path)
        return s.close()
    local = {p: attempt(lambda p=p: unix_connect(p)) for p in unix.split(",") if p}
    return {"tcp": tcp, "unix": local}
"""

OTHER_RUN = """
@protocol(name="hostile_other_run", version="1.0.0", description="reads another run's job file")
async def hostile_other_run(lh: LiquidHandler, path: str = "", other: str = "") -> dict:
    return {
        "absolute": attempt(lambda: open(path).read()),
        "relative": attempt(lambda: open(os.path.join("..", other, "job.json")).read()),
        "listing": attempt(lambda: os.listdir("..")),
        "checkout": attempt(lambda: os.listdir(os.path.dirname(os.path.dirname(path)))),
    }
"""

FORK_BOMB = """
@protocol(name="hostile_fork_bomb", version="1.0.0", description="forks until something stops it")
async def hostile_fork_bomb(lh: LiquidHandler, most: int = 100000) -> dict:
    children, error = 0, None
    while children < most:
        try:
            pid = os.fork()
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        if pid == 0:
            signal.pause()  # until the run ends and its process group is killed
            os._exit(0)
        children += 1
    return {"children": children, "error": error}
"""

ALLOCATE = """
@protocol(name="hostile_allocate", version="1.0.0", description="allocates 10 GB")
async def hostile_allocate(lh: LiquidHandler, gigabytes: int = 10) -> int:
    hoard = bytearray(gigabytes * 1024**3)
    return len(hoard)
"""

PRINT = """
@protocol(name="hostile_print", version="1.0.0", description="prints 1 GB")
async def hostile_print(lh: LiquidHandler, megabytes: int = 1024) -> str:
    line = "x" * (1024 * 1024 - 1)
    for _ in range(megabytes):
        print(line)
    return "printed it all"
"""


BUS = """
import asyncio
import json
import nats
from nats.aio.client import RawCredentials


@protocol(name="hostile_bus", version="1.0.0", description="abuses the message bus with its own credentials")
async def hostile_bus(lh: LiquidHandler, other_bench: str = "other-bench", other_run: str = "other-run") -> dict:
    job = json.load(open("job.json"))
    errors = []

    async def noted(exc):
        errors.append(str(exc))

    options = {"error_cb": noted, "allow_reconnect": False}
    if job.get("nats_creds"):
        options.update(user_credentials=RawCredentials(job["nats_creds"]), inbox_prefix="_INBOX_" + job["run_id"])
    nc = await nats.connect(job["nats_url"], **options)
    js = nc.jetstream(timeout=3)
    bench = job["assignment"]["assets"][0]["bench_id"]

    async def tried(coro, answer=lambda value: repr(value)[:300]):
        try:
            return {"ok": True, "value": answer(await coro)}
        except BaseException as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}

    forged = {"run_id": job["run_id"], "seq": 999, "status": "completed", "message_id":
              "00000000-0000-4000-8000-000000000000", "occurred_at": "2026-01-01T00:00:00Z"}
    call = {"bench_id": bench, "run_id": other_run, "sequence": 1, "machine": "lh", "method": "request_tip_presence"}
    seen = {
        "has_creds": bool(job.get("nats_creds")),
        "create_stream": await tried(js.add_stream(name="EVIL", subjects=["evil.>"])),
        "delete_stream": await tried(js.delete_stream("PRAXIS_EXECUTOR_EVT")),
        "forged_event": await tried(js.publish("praxis.executor.evt.run_finished.v1", json.dumps(forged).encode())),
        "other_bench": await tried(nc.request(f"praxis.bench.{other_bench}.qry.describe.v1", b"{}", timeout=3)),
        "other_run": await tried(nc.request(f"praxis.bench.{bench}.cmd.machine_call.v1",
                                            json.dumps(call).encode(), timeout=10), lambda m: json.loads(m.data)),
    }
    await nc.flush()  # the server answers the PING after the refusals of everything sent before it
    seen["errors"] = errors
    await nc.close()
    return seen
"""


def executor_health(stack: Any) -> dict[str, str]:
    """The executor's own health details (the gateway's /health shows only each service's status)."""

    async def ask() -> dict[str, str]:
        nc = await stack.nats()
        try:
            reply = await request(nc, HealthQuery(), HealthReply, timeout=10, subject=health_subject("executor"))
        finally:
            await nc.close()
        return dict(reply.details)

    return asyncio.run(ask())


@pytest.fixture(scope="module")
def sandboxed(stack: Any) -> dict[str, str]:
    """The executor's health details; the module is skipped when its sandbox is incomplete."""
    details = executor_health(stack)
    if details.get("sandbox_missing"):
        pytest.skip(f"the worker sandbox is incomplete on this host: {details['sandbox_missing']}")
    return details


@pytest.fixture
def hostile(runs: Any, sandboxed: dict[str, str], tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``hostile(SOURCE, **parameters)``: upload the protocol, run it, wait for its end, return the run."""

    def run(body: str, **parameters: Any) -> dict[str, Any]:
        path = tmp_path / f"p_{secrets.token_hex(4)}.py"
        path.write_text(PRELUDE + body)
        run_id = runs.submit(runs.upload(path)["id"], parameters)
        return dict(runs.wait_status(run_id, END, timeout=180))

    return run


def result(run: dict[str, Any]) -> Any:
    assert run["status"] == "completed", run
    return run["outputs"]["result"]


def refused(outcome: dict[str, Any]) -> bool:
    return outcome["ok"] is False and outcome["error"].startswith("PermissionError")


def assert_platform_intact(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    with stack.client() as client:
        assert client.get("/api/v1/health").status_code == 200
    marker = f"m{secrets.token_hex(4)}"
    assert result(hostile(BENIGN.replace("MARKER", marker))) == {"marker": marker}


def test_the_executor_reports_every_layer_active(sandboxed: dict[str, str]) -> None:
    assert sandboxed["sandbox"] == LAYERS
    assert sandboxed["sandbox_missing"] == ""


def test_the_executors_environment_is_out_of_reach(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    executor_pid = stack.procs["executor"].pid
    run = hostile(ENVIRON, executor_pid=executor_pid)
    seen = result(run)
    assert refused(seen["scan"]), seen["scan"]  # it cannot even list /proc
    assert refused(seen["executor"]) and refused(seen["parent"]), seen
    assert seen["uid"] != 0
    database_url = stack.env["PRAXIS_DATABASE_URL"]
    assert database_url not in json.dumps(run) and "PRAXIS_DATABASE_URL" not in json.dumps(run)


def test_its_own_environment_holds_no_secret(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    env = result(hostile(ENVIRON))["own_env"]
    assert not [k for k in env if k.startswith("PRAXIS_")], env
    assert stack.env["PRAXIS_DATABASE_URL"] not in json.dumps(env)
    assert env["HOME"] == env["TMPDIR"] and env["HOME"].startswith(stack.env["PRAXIS_EXECUTOR_WORK_DIR"])


def test_postgres_over_tcp_is_refused(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    pg_port = urlsplit(stack.env["PRAXIS_DATABASE_URL"]).port
    seen = result(hostile(CONNECT, ports=str(pg_port)))
    assert refused(seen["tcp"][str(pg_port)]), seen
    assert_platform_intact(stack, hostile)


@pytest.fixture
def unix_listener() -> Iterator[tuple[str, socket.socket]]:
    """A listening unix socket where Postgres might put one, readable and writable by every user."""
    directory = Path("/tmp") / f"praxis-hostile-{secrets.token_hex(4)}"
    directory.mkdir(mode=0o755)
    path = str(directory / ".s.PGSQL.5432")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    os.chmod(path, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
    listener.listen(8)
    listener.setblocking(False)
    try:
        with socket.socket(socket.AF_UNIX) as probe:  # it does accept connections from an unconfined process
            probe.connect(path)
            listener.accept()[0].close()
        yield path, listener
    finally:
        listener.close()
        os.unlink(path)
        directory.rmdir()


def test_postgres_unix_sockets_are_refused(
    stack: Any, hostile: Callable[..., dict[str, Any]], unix_listener: tuple[str, socket.socket]
) -> None:
    path, listener = unix_listener
    candidates = [path, "/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432"]
    seen = result(hostile(CONNECT, unix=",".join(candidates)))
    for candidate in candidates:
        assert seen["unix"][candidate]["ok"] is False, seen
    assert seen["unix"][path]["error"].startswith("PermissionError"), seen  # refused, not merely absent
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever reached it


def test_tcp_to_anything_but_nats_is_refused(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    gateway_port = urlsplit(stack.base_url).port
    seen = result(hostile(CONNECT, ports=f"{gateway_port},22"))
    assert refused(seen["tcp"][str(gateway_port)]) and refused(seen["tcp"]["22"]), seen


def test_another_runs_job_file_is_out_of_reach(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    marker = f"m{secrets.token_hex(4)}"
    other = hostile(BENIGN.replace("MARKER", marker))
    assert other["status"] == "completed", other
    job = Path(stack.env["PRAXIS_EXECUTOR_WORK_DIR"]) / other["id"] / "job.json"
    assert marker in job.read_text()  # it is there, for whoever may read it
    run = hostile(OTHER_RUN, path=str(job), other=other["id"])
    seen = result(run)
    assert all(outcome["ok"] is False for outcome in seen.values()), seen
    assert marker not in json.dumps(run)


def test_a_fork_bomb_hits_the_process_limit_and_dies_with_its_run(
    stack: Any, hostile: Callable[..., dict[str, Any]], find_workers: Callable[[str], list[int]]
) -> None:
    run = hostile(FORK_BOMB)
    seen = result(run)
    assert seen["error"] is not None and "Resource temporarily unavailable" in seen["error"], seen
    assert 0 < seen["children"] < 4096, seen
    wait_for_sync(lambda: not find_workers(run["id"]), timeout=30, message="the bomb's processes outlived the run")
    assert_platform_intact(stack, hostile)


def test_allocating_10_gb_fails_with_memory_error(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    run = hostile(ALLOCATE)
    assert run["status"] == "failed" and "MemoryError" in run["error"], run
    assert_platform_intact(stack, hostile)


def test_printing_1_gb_hits_the_output_limit(stack: Any, hostile: Callable[..., dict[str, Any]]) -> None:
    run = hostile(PRINT)
    assert run["status"] == "failed", run
    assert "wrote more output than its limit allows" in run["error"] and "SIGXFSZ" in run["error"], run
    log = Path(stack.env["PRAXIS_EXECUTOR_WORK_DIR"]) / run["id"] / "worker.stderr"
    assert log.stat().st_size <= 256 * 1024**2
    assert_platform_intact(stack, hostile)


def test_its_own_bus_credentials_allow_nothing_beyond_its_run(
    stack: Any, hostile: Callable[..., dict[str, Any]], agent_record: Callable[[str], dict[str, Any]]
) -> None:
    if not stack.admin_creds:
        pytest.skip("this stack's NATS has no authorization")
    seen = result(hostile(BUS))
    assert seen["has_creds"], "the worker got no credentials of its own"
    for attack in ("create_stream", "delete_stream", "forged_event", "other_bench"):
        assert seen[attack]["ok"] is False, (attack, seen)
    violations = " ".join(seen["errors"]).lower()
    for subject in ("$js.api.stream.create.evil", "praxis.executor.evt.run_finished.v1", "other-bench"):
        assert "permissions violation for publish to" in violations and subject in violations, seen["errors"]
    reply = seen["other_run"].get("value") or {}
    assert reply.get("ok") is False and reply.get("error_type") == "RunDoesNotHoldMachine", seen["other_run"]
    assert agent_record("other-run") == {}
    assert_platform_intact(stack, hostile)
