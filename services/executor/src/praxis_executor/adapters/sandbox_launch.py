"""``python -m praxis_executor.adapters.sandbox_launch SPEC -- WORKER ARGV``: the privileged half of a worker's start.

It runs between the executor's fork and the worker's interpreter, as a fresh single-threaded process (nothing of
the executor's threads or locks, unlike a ``preexec_fn``), with the executor's privileges, in this order:

1. a private mount namespace (when the spec has one): empty tmpfs over what the worker must not see (other runs'
   directories, ``/root``, ``/tmp``, Postgres socket directories) and over directories it could not pass through,
   with the interpreter's tree and its own run directory bound back at their usual paths;
2. resource limits (CPU seconds, address space, open files, processes of the worker's user, file size, no core);
3. ``setgroups([])``, ``setresgid``, ``setresuid`` to the worker's user: after this nothing can be undone;
4. ``PR_SET_NO_NEW_PRIVS`` (no setuid binary can give privileges back; Landlock and seccomp need it) and, again,
   ``PR_SET_PDEATHSIG`` (changing credentials clears it): a worker never outlives its executor;
5. ``execve`` of the worker, which confines itself further (Landlock, seccomp) before it loads the protocol.

A step that fails stops the launch: a ``finished``/``failed`` report naming it goes to the report pipe, so the run
fails with the reason instead of running with less isolation than the executor announced. In probe mode
(the executor's start-up check) a failing step is recorded and skipped, so the probe can say which layers work.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from collections.abc import Callable

from praxis_executor.adapters.sandbox_spec import ENV_VAR, LaunchSpec, Limits, MountPlan, SpecError

PROBE_STEPS_VAR = "PRAXIS_SANDBOX_PROBE_STEPS"
"""Probe mode: the launcher's failed steps, for the probe child's report."""
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
TMPFS_OPTIONS = b"mode=0755,size=1m,nr_inodes=4096"


class LaunchError(RuntimeError):
    """A step of the launch failed; the message names it and what the kernel said."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise LaunchError(f"{what}: {os.strerror(err)}")


def enter_mount_namespace(plan: MountPlan) -> None:
    """Unshare the mount namespace and lay out ``plan`` in it; nothing of it propagates back to the host."""
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    # held open (in the new namespace: a bind's source must be one of its mounts) before the overlays hide them
    sources = {path: os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for path, _ in plan.binds}
    for overlay in plan.overlays:
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        _check(libc.mount(b"tmpfs", overlay.encode(), b"tmpfs", flags, TMPFS_OPTIONS), f"tmpfs over {overlay}")
    for path, writable in plan.binds:
        os.makedirs(path, mode=0o755, exist_ok=True)
        source = f"/proc/self/fd/{sources[path]}".encode()
        _check(libc.mount(source, path.encode(), None, MS_BIND | MS_REC, None), f"binding {path}")
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (MS_NOEXEC if writable else MS_RDONLY)
        _check(libc.mount(None, path.encode(), None, flags, None), f"remounting {path}")
    for fd in sources.values():
        os.close(fd)


def set_limits(limits: Limits) -> None:
    """Soft and hard limits alike (the worker may lower them, never raise them). The CPU limit's hard value is a
    little higher: SIGXCPU at the soft limit fails the run with its reason, SIGKILL follows if it is ignored."""
    pairs = {
        resource.RLIMIT_CPU: (limits.cpu_s, limits.cpu_s + 5),
        resource.RLIMIT_AS: (limits.address_space_bytes,) * 2,
        resource.RLIMIT_NOFILE: (limits.open_files,) * 2,
        resource.RLIMIT_NPROC: (limits.processes,) * 2,
        resource.RLIMIT_FSIZE: (limits.output_bytes,) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, (soft, hard) in pairs.items():
        resource.setrlimit(which, (soft, hard))


def drop_user(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
        raise LaunchError(f"still uid {os.geteuid()} gid {os.getegid()} after switching to {uid}:{gid}")


def lock_down(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")
    if os.getppid() != parent_pid:  # the executor died before the death signal was armed again
        raise LaunchError("the executor is gone")


def launch(spec: LaunchSpec, worker: list[str]) -> None:
    """Apply ``spec``'s steps in order, then exec ``worker``; only returns by raising :class:`LaunchError`."""
    failed: dict[str, str] = {}

    def step(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (OSError, LaunchError, ValueError) as exc:
            if not spec.probe:
                raise LaunchError(f"sandbox step '{name}' failed: {exc}") from exc
            failed[name] = str(exc)

    mounts, limits, uid, gid = spec.mounts, spec.limits, spec.uid, spec.gid
    if mounts is not None:
        step("mountns", lambda: enter_mount_namespace(mounts))
    step("chdir", lambda: os.chdir(spec.run_dir))
    if limits is not None:
        step("rlimits", lambda: set_limits(limits))
    if uid is not None and gid is not None:
        step("uid", lambda: drop_user(uid, gid))
    lock_down(spec.parent_pid)
    env = {**os.environ, ENV_VAR: spec.to_json()}
    if spec.probe:
        env[PROBE_STEPS_VAR] = json.dumps(failed)
    os.execve(worker[0], worker, env)


def fail(reason: str) -> int:
    """Tell the executor through the report pipe (the run fails with the reason), and exit. Written by hand: after
    the user switch the launcher may no longer reach the modules it has not imported yet."""
    sys.stderr.write(f"praxis worker sandbox: {reason}\n")
    report = {"type": "finished", "status": "failed", "error": f"the worker sandbox could not start: {reason}"}
    os.write(1, json.dumps(report).encode() + b"\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("usage: python -m praxis_executor.adapters.sandbox_launch SPEC -- WORKER ARGV...\n")
        return 2
    try:
        launch(LaunchSpec.from_json(args[0]), args[2:])
    except (SpecError, LaunchError, OSError) as exc:
        return fail(str(exc))
    return 1  # not reached: launch() execs or raises


if __name__ == "__main__":
    sys.exit(main())
