"""``python -m praxis_executor.adapters.sandbox_probe PORT``: the executor's start-up check, from the inside.

The executor starts this through the real launcher with every layer it hopes to use, exactly as it would start a
worker. It confines itself with the worker's own hook, then *tries* what each layer must stop — read a file the
worker has no business reading, connect to ``PORT`` (a listener the executor opened for the purpose), create a unix
socket — and checks what each layer must allow. It prints one JSON object: layer -> {"ok", "detail"}. Nothing is
inferred from kernel versions alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from praxis_executor.adapters import sandbox_landlock as landlock
from praxis_executor.adapters.sandbox_confine import confine_from_environment
from praxis_executor.adapters.sandbox_launch import PROBE_STEPS_VAR
from praxis_executor.adapters.sandbox_spec import ENV_VAR, LaunchSpec

OUT_OF_BOUNDS = "/proc/self/status"
"""Readable by every process without Landlock, outside every tree a worker may read with it."""


@dataclass
class Outcome:
    ok: bool
    detail: str


def _denied(action: str, fn: Callable[[], object]) -> str | None:
    """None when ``fn()`` was refused with EACCES/EPERM; otherwise what happened instead."""
    try:
        fn()
    except PermissionError:
        return None
    except OSError as exc:
        return f"{action}: {exc.strerror} instead of a refusal"
    return f"{action} was allowed"


def check_uid(spec: LaunchSpec, failed: dict[str, str]) -> Outcome:
    if spec.uid is None:
        return Outcome(False, "not requested")
    problems = [f"{k}: {v}" for k, v in failed.items() if k == "uid"]
    if os.geteuid() != spec.uid or os.geteuid() == 0:
        problems.append(f"runs as uid {os.geteuid()}")
    if os.getgroups() not in ([], [spec.gid]):
        problems.append(f"keeps groups {os.getgroups()}")
    if not os.access(spec.run_dir, os.W_OK | os.X_OK):
        problems.append(f"cannot reach its run directory {spec.run_dir}")
    return Outcome(not problems, "; ".join(problems) or f"uid {os.geteuid()} gid {os.getegid()}")


def siblings_of(run_dir: str) -> list[str]:
    """What else the worker sees beside its run directory (looked at before Landlock, which hides it anyway)."""
    try:
        return [n for n in os.listdir(os.path.dirname(run_dir)) if n != os.path.basename(run_dir)]
    except OSError:
        return []


def check_mounts(spec: LaunchSpec, failed: dict[str, str], siblings: list[str]) -> Outcome:
    if spec.mounts is None:
        return Outcome(False, "not requested")
    if "mountns" in failed:
        return Outcome(False, failed["mountns"])
    if siblings:
        return Outcome(False, f"other runs' directories are visible: {siblings[:3]}")
    hidden = ", ".join(spec.mounts.overlays)
    return Outcome(True, f"private mount namespace; empty: {hidden}")


def check_fs(spec: LaunchSpec, failed: dict[str, str]) -> Outcome:
    if not spec.landlock:
        return Outcome(False, "not requested")
    if "landlock-fs" in failed:
        return Outcome(False, failed["landlock-fs"])
    problems = [p for p in [_denied(f"reading {OUT_OF_BOUNDS}", lambda: open(OUT_OF_BOUNDS, "rb").close())] if p]
    try:
        with open(os.path.join(spec.run_dir, ".probe"), "w") as f:
            f.write("ok")
        os.listdir(sys.base_prefix)
    except OSError as exc:
        problems.append(f"its own run directory or the interpreter is out of reach: {exc}")
    abi = landlock.abi_version()
    scope = "signals and abstract unix sockets scoped" if abi >= 6 else "signals NOT scoped (ABI < 6)"
    return Outcome(not problems, "; ".join(problems) or f"Landlock ABI {abi}; {scope}")


def check_net(spec: LaunchSpec, failed: dict[str, str], listen_port: int) -> Outcome:
    if spec.connect_ports is None:
        return Outcome(False, "not requested")
    if "landlock-net" in failed:
        return Outcome(False, failed["landlock-net"])
    problems: list[str | None] = []
    with socket.socket() as s:
        problems.append(_denied(f"connecting to port {listen_port}", lambda: s.connect(("127.0.0.1", listen_port))))
    with socket.socket() as s:
        problems.append(_denied("binding a TCP port", lambda: s.bind(("127.0.0.1", 0))))
    with socket.socket() as s:
        s.settimeout(2)
        with contextlib.suppress(TimeoutError, ConnectionError):
            try:
                s.connect(("127.0.0.1", spec.connect_ports[0]))
            except PermissionError:
                problems.append(f"the NATS port {spec.connect_ports[0]} is refused too")
            except OSError as exc:  # refused or unreachable here is fine: it was not Landlock
                if exc.errno not in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                    raise
    found = [p for p in problems if p]
    ports = ",".join(map(str, spec.connect_ports))
    return Outcome(not found, "; ".join(found) or f"TCP connect only to port(s) {ports}, by port; no TCP bind")


def check_seccomp(spec: LaunchSpec, failed: dict[str, str]) -> Outcome:
    if not spec.seccomp:
        return Outcome(False, "not requested")
    if "seccomp" in failed:
        return Outcome(False, failed["seccomp"])
    problem = _denied("creating a unix socket", lambda: socket.socket(socket.AF_UNIX).close())
    detail = "only AF_INET/AF_INET6/AF_NETLINK sockets; no namespaces, io_uring, ptrace, keyrings, bpf, mounts"
    return Outcome(problem is None, problem or detail)


def check_limits(spec: LaunchSpec, failed: dict[str, str]) -> Outcome:
    limits = spec.limits
    if limits is None:
        return Outcome(False, "not requested")
    if "rlimits" in failed:
        return Outcome(False, failed["rlimits"])
    wanted = {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_AS": limits.address_space_bytes,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_NPROC": limits.processes,
        "RLIMIT_FSIZE": limits.output_bytes,
    }
    wrong: list[str] = []
    for name, value in wanted.items():
        soft, _ = resource.getrlimit(getattr(resource, name))
        if soft != value:
            wrong.append(f"{name} is {soft}, not {value}")
    return Outcome(not wrong, "; ".join(wrong) or "set")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = LaunchSpec.from_json(os.environ[ENV_VAR])
    failed: dict[str, str] = json.loads(os.environ.pop(PROBE_STEPS_VAR, "{}"))
    siblings = siblings_of(spec.run_dir)
    failed.update(confine_from_environment() or {})
    outcomes = {
        "uid": check_uid(spec, failed),
        "mountns": check_mounts(spec, failed, siblings),
        "landlock-fs": check_fs(spec, failed),
        "landlock-net": check_net(spec, failed, int(args[0])),
        "seccomp": check_seccomp(spec, failed),
        "rlimits": check_limits(spec, failed),
    }
    sys.stdout.write(json.dumps({k: {"ok": o.ok, "detail": o.detail} for k, o in outcomes.items()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
