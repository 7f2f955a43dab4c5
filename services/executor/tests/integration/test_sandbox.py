"""The worker sandbox on this host, for real: the probe, each layer refusing what it must (and allowing what a
worker needs), the resource limits ending or failing the process, and ``WorkerProcess`` running a real worker in
it, safe against what a worker can leave in its own run directory.

Needs root and Landlock ABI >= 6 (skipped otherwise, saying so). Snippets run through the real launcher and the
worker's own confinement hook, exactly as a worker starts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from praxis_contracts.runs import Assignment
from praxis_executor.adapters import sandbox_landlock as landlock
from praxis_executor.adapters.sandbox import Options, Sandbox, ensure_user, probe
from praxis_executor.adapters.sandbox_spec import Limits, MountPlan
from praxis_executor.adapters.worker_process import WorkerProcess
from praxis_executor.config import Settings
from praxis_executor.worker.protocol import JobSpec
from praxis_testkit.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0 or landlock.abi_version() < 6, reason="the full worker sandbox needs root and Landlock ABI 6"
    ),
]

ROOT = Path(__file__).resolve().parents[4]
PRELUDE = """
import json, os, socket, sys
status = open("/proc/self/status").read()
from praxis_executor.adapters.sandbox_confine import confine_from_environment
confine_from_environment()
out = {}
def attempt(name, fn):
    try:
        out[name] = ["ok", repr(fn())[:200]]
    except BaseException as exc:
        out[name] = [type(exc).__name__, str(exc)[:200]]
"""


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A TCP port the sandbox treats as NATS's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s


def start_sandbox(work_dir: Path, nats_url: str) -> Sandbox:
    """What ``Sandbox.start`` does, without making the test process itself non-dumpable."""
    options = Options.from_settings(Settings(work_dir=work_dir, nats_url=nats_url))
    return probe(options, ensure_user(options.user, options.uid, options.gid), "")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, listener: socket.socket) -> Sandbox:
    work_dir = tmp_path_factory.mktemp("sandbox") / "executor"
    return start_sandbox(work_dir, f"nats://127.0.0.1:{listener.getsockname()[1]}")


@pytest.fixture
def run_dir(sandbox: Sandbox, unique_id: str) -> Path:
    path = sandbox.options.work_dir / f"run-{unique_id}"
    Sandbox.prepare(path, sandbox.owner())
    return path


def confined(sandbox: Sandbox, run_dir: Path, body: str, **spec: Any) -> subprocess.CompletedProcess[str]:
    launch = replace(sandbox.spec_for(run_dir), **spec)
    code = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    return subprocess.run(
        Sandbox.command(launch, [sys.executable, "-I", "-c", code]),
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(run_dir)},
        start_new_session=True,
        check=False,
    )


def outcomes(done: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_probe_finds_every_layer_here(sandbox: Sandbox) -> None:
    assert sandbox.report.complete, sandbox.describe()
    assert sandbox.mounts and sandbox.user is not None and sandbox.user.uid != 0
    assert sandbox.health()["sandbox"] == "uid,landlock-fs,landlock-net,seccomp,rlimits"


def test_it_is_the_worker_user_with_nothing_to_regain(sandbox: Sandbox, run_dir: Path) -> None:
    seen = outcomes(
        confined(
            sandbox,
            run_dir,
            """
            out["ids"] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]
            out["nnp"] = [l for l in status.splitlines() if l.startswith(("NoNewPrivs", "CapEff"))]
            out["cwd"] = os.getcwd()
            attempt("setuid", lambda: os.setuid(0))
            """,
        )
    )
    user = sandbox.user
    assert user is not None
    assert seen["ids"] == [user.uid, user.uid, user.gid, user.gid, []]
    assert sorted(seen["nnp"]) == ["CapEff:\t0000000000000000", "NoNewPrivs:\t1"]
    assert seen["cwd"] == str(run_dir)
    assert seen["setuid"][0] == "PermissionError"


def test_files_other_than_its_own_are_out_of_reach(sandbox: Sandbox, run_dir: Path) -> None:
    other = run_dir.parent / "other-run"
    other.mkdir(exist_ok=True)
    (other / "job.json").write_text("secret")
    os.chmod(other / "job.json", 0o644)
    module = Path(landlock.__file__)
    seen = outcomes(
        confined(
            sandbox,
            run_dir,
            f"""
            attempt("other_run", lambda: open({str(other / "job.json")!r}).read())
            attempt("shadow", lambda: open("/etc/shadow").read())
            attempt("checkout", lambda: open({str(ROOT / "pyproject.toml")!r}).read())
            attempt("root_home", lambda: os.listdir("/root"))
            attempt("source", lambda: len(open({str(module)!r}).read()))
            attempt("write_own", lambda: open("out.txt", "w").write("mine"))
            attempt("write_elsewhere", lambda: open({str(ROOT / "intruder.txt")!r}, "w"))
            attempt("passwd", lambda: len(open("/etc/passwd").read()))
            """,
        )
    )
    assert seen["other_run"][0] == "FileNotFoundError", seen  # not even there: its own mount namespace
    assert seen["shadow"][0] == "PermissionError"
    # Only the package sources, not the checkout: refused, or not there at all when the checkout sits under a
    # directory the mount namespace hides (a clone in /tmp).
    assert seen["checkout"][0] in ("PermissionError", "FileNotFoundError"), seen
    assert seen["root_home"][0] == "PermissionError"
    assert seen["source"][0] == "ok" and seen["passwd"][0] == "ok"
    assert seen["write_own"][0] == "ok" and (run_dir / "out.txt").read_text() == "mine"
    assert seen["write_elsewhere"][0] == "PermissionError" and not (ROOT / "intruder.txt").exists()


def test_tcp_only_to_the_nats_port_and_no_unix_sockets(
    sandbox: Sandbox, run_dir: Path, listener: socket.socket
) -> None:
    nats_port = listener.getsockname()[1]
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        other_port = other.getsockname()[1]
        seen = outcomes(
            confined(
                sandbox,
                run_dir,
                f"""
                attempt("nats", lambda: socket.create_connection(("127.0.0.1", {nats_port}), timeout=5).close())
                attempt("other", lambda: socket.create_connection(("127.0.0.1", {other_port}), timeout=5))
                attempt("bind", lambda: socket.socket().bind(("127.0.0.1", 0)))
                attempt("unix", lambda: socket.socket(socket.AF_UNIX))
                attempt("pair", lambda: len(socket.socketpair()))
                attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())
                """,
            )
        )
    listener.accept()[0].close()
    assert seen["nats"][0] == "ok", seen
    assert seen["other"][0] == "PermissionError" and seen["bind"][0] == "PermissionError"
    assert seen["unix"][0] == "PermissionError" and seen["pair"] == ["ok", "2"] and seen["udp"][0] == "ok"


def test_no_namespaces_no_signals_outside_but_threads_and_children_work(sandbox: Sandbox, run_dir: Path) -> None:
    seen = outcomes(
        confined(
            sandbox,
            run_dir,
            """
            import ctypes, subprocess, threading
            libc = ctypes.CDLL(None, use_errno=True)
            attempt("userns", lambda: (libc.unshare(0x10000000), ctypes.get_errno()))
            attempt("signal_parent", lambda: os.kill(os.getppid(), 0))
            t = threading.Thread(target=lambda: None); t.start(); t.join()
            attempt("child", lambda: subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout)
            """,
        )
    )
    assert seen["userns"] == ["ok", "(-1, 1)"]  # EPERM: no user namespace, no "root" inside one
    assert seen["signal_parent"][0] == "PermissionError"
    assert seen["child"] == ["ok", "b'hi\\n'"]


LIMITS = Limits(cpu_s=1, address_space_bytes=1024**3, open_files=64, processes=512, output_bytes=1024**2)


def test_the_cpu_limit_ends_the_worker_with_sigxcpu(sandbox: Sandbox, run_dir: Path) -> None:
    done = confined(sandbox, run_dir, "while True: pass", limits=LIMITS)
    assert done.returncode == -signal.SIGXCPU


def test_the_file_size_limit_ends_the_worker_with_sigxfsz(sandbox: Sandbox, run_dir: Path) -> None:
    done = confined(sandbox, run_dir, "open('big', 'wb').write(b'x' * 2 * 1024**2)", limits=LIMITS)
    assert done.returncode == -signal.SIGXFSZ
    assert (run_dir / "big").stat().st_size <= 1024**2


def test_memory_and_open_files_fail_inside(sandbox: Sandbox, run_dir: Path) -> None:
    seen = outcomes(
        confined(
            sandbox,
            run_dir,
            """
            attempt("allocate", lambda: len(bytearray(2 * 1024**3)))
            attempt("files", lambda: [open("/dev/null") for _ in range(100)])
            """,
            limits=LIMITS,
        )
    )
    assert seen["allocate"][0] == "MemoryError"
    assert seen["files"][0] == "OSError" and "Too many open files" in seen["files"][1]


def test_a_step_that_fails_fails_the_run_with_its_reason(sandbox: Sandbox, run_dir: Path) -> None:
    broken = MountPlan(overlays=(), binds=(("/nonexistent/praxis", False),))
    done = confined(sandbox, run_dir, "", mounts=broken)
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["type"] == "finished" and report["status"] == "failed"
    assert "sandbox step 'mountns' failed" in report["error"]


HOLDER = """
import signal, sys
from praxis_executor.adapters.sandbox import make_undumpable
print(make_undumpable() if sys.argv[1] == "undumpable" else "dumpable", flush=True)
signal.pause()  # until the test kills it
"""


@pytest.mark.parametrize("undumpable", [True, False])
def test_an_undumpable_process_hides_its_environment_even_from_its_own_user(
    sandbox: Sandbox, run_dir: Path, undumpable: bool
) -> None:
    """What the executor does to itself at start, shown on two processes of one user (the worker user here)."""
    plain = replace(sandbox.spec_for(run_dir), landlock=False, connect_ports=None, seccomp=False, limits=None)
    holder = subprocess.Popen(
        Sandbox.command(plain, [sys.executable, "-I", "-c", HOLDER, "undumpable" if undumpable else "dumpable"]),
        stdout=subprocess.PIPE,
        text=True,
        env={"SECRET": "s3cret", "PATH": "/usr/bin:/bin"},
        start_new_session=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() in ("True", "dumpable")
        reader = subprocess.run(
            Sandbox.command(plain, [sys.executable, "-I", "-c", f"print(open('/proc/{holder.pid}/environ').read())"]),
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )
        if undumpable:
            assert reader.returncode != 0 and "PermissionError" in reader.stderr and "s3cret" not in reader.stdout
        else:  # the control: without it, the same user reads it
            assert "SECRET=s3cret" in reader.stdout, reader.stderr
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------------------------- WorkerProcess

PROTOCOL = """
import os, signal, socket, sys
async def probe_me(leave_behind: bool = False):
    child = None
    if leave_behind:  # a child that leaves the process group, holding the report pipe
        child = os.fork()
        if child == 0:
            os.setsid()
            signal.pause()
            os._exit(0)
    print("hello from the sandbox")
    return {"uid": os.getuid(), "home": os.environ["HOME"], "tmp": os.environ["TMPDIR"], "cwd": os.getcwd(),
            "env": sorted(os.environ), "child": child}
"""


@pytest.fixture(scope="module")
def worker_sandbox(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> Sandbox:
    return start_sandbox(tmp_path_factory.mktemp("workers") / "executor", nats_url)


def job(nats_url: str, **parameters: Any) -> JobSpec:
    return JobSpec(
        run_id="sandboxed",
        function="probe_me",
        source=PROTOCOL,
        filename="probe_me.py",
        parameters=parameters,
        assignment=Assignment(assets=[]),
        nats_url=nats_url,
    )


async def run_worker(worker: WorkerProcess) -> list[dict[str, Any]]:
    reports = [json.loads(line) async for batch in worker.lines() for line in batch if line.strip()]
    await worker.wait()
    return reports


async def test_a_real_worker_runs_its_protocol_in_the_sandbox(worker_sandbox: Sandbox, nats_url: str) -> None:
    run_dir = worker_sandbox.options.work_dir / "run-real"
    worker = await WorkerProcess.start(run_dir, job(nats_url), {"PATH": "/usr/bin:/bin"}, worker_sandbox)
    reports = await run_worker(worker)
    assert reports[-1]["type"] == "finished" and reports[-1]["status"] == "completed", reports
    seen = reports[-1]["outputs"]["result"]
    assert seen["uid"] != 0 and seen["home"] == seen["tmp"] == seen["cwd"] == str(run_dir)
    assert "PRAXIS_WORKER_SANDBOX" not in seen["env"]
    assert "hello from the sandbox" in worker.stderr_tail()
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700" and run_dir.stat().st_uid == seen["uid"]


async def test_links_planted_in_the_run_directory_are_never_followed(
    worker_sandbox: Sandbox, nats_url: str, tmp_path: Path
) -> None:
    run_dir = worker_sandbox.options.work_dir / "run-links"
    Sandbox.prepare(run_dir, worker_sandbox.owner())
    victim, secret = tmp_path / "victim", tmp_path / "secret"
    victim.write_text("untouched")
    secret.write_text("root's secret")
    (run_dir / "job.json").symlink_to(victim)  # what a previous generation of the worker could leave
    (run_dir / "worker.stderr").symlink_to(secret)
    worker = await WorkerProcess.start(run_dir, job(nats_url), {"PATH": "/usr/bin:/bin"}, worker_sandbox)
    reports = await run_worker(worker)
    assert reports[-1]["status"] == "completed", reports
    assert victim.read_text() == "untouched" and secret.read_text() == "root's secret"
    assert "root's secret" not in worker.stderr_tail()
    assert not (run_dir / "job.json").is_symlink() and not (run_dir / "worker.stderr").is_symlink()


async def test_a_process_that_escaped_the_group_dies_with_the_worker(worker_sandbox: Sandbox, nats_url: str) -> None:
    run_dir = worker_sandbox.options.work_dir / "run-escape"
    spec = job(nats_url, leave_behind=True)
    worker = await WorkerProcess.start(run_dir, spec, {"PATH": "/usr/bin:/bin"}, worker_sandbox)
    reports = await run_worker(worker)  # returns although the escaped child still held the pipe
    assert reports[-1]["status"] == "completed", reports
    child = reports[-1]["outputs"]["result"]["child"]
    assert child
    await wait_for(lambda: not Path(f"/proc/{child}").exists(), timeout=10, message="the escaped child outlived it")
