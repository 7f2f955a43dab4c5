"""The worker sandbox as the executor sees it: probed once at start, applied to every worker, reported as it is.

At start (:meth:`Sandbox.start`) the executor makes itself non-dumpable (no process of its own user reads its
``/proc/<pid>/environ``, where the database URL is), creates the worker user if it is root and the user is
missing, and *probes*: it starts a throw-away worker through the real launcher with every layer, which tries what
each layer must stop (:mod:`.sandbox_probe`). Only the layers that held are applied to workers; the others are
reported missing with the reason, in one log block and in ``/health``, and :mod:`.sandbox_policy` decides which
runs may start without them.

Layers: ``uid`` (a user of its own, never root, in a private mount namespace that hides other runs, ``/root``,
``/tmp`` and Postgres sockets and makes the interpreter reachable), ``landlock-fs``, ``landlock-net`` (TCP only to
the NATS port), ``seccomp`` (no unix sockets, namespaces, io_uring ...), ``rlimits``.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from praxis_executor.adapters.sandbox_policy import LAYERS, SandboxReport, Verdict, decide
from praxis_executor.adapters.sandbox_spec import LaunchSpec, Limits, Mode, nats_ports, plan_mounts
from praxis_executor.config import Settings

log = logging.getLogger(__name__)
LAUNCHER = "praxis_executor.adapters.sandbox_launch"
PROBE = "praxis_executor.adapters.sandbox_probe"
PROBE_TIMEOUT_S = 60.0
PR_SET_DUMPABLE, PR_GET_DUMPABLE = 4, 3
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


class SandboxSetupError(RuntimeError):
    """The worker user cannot be had (the message says why and what to do)."""


@dataclass(frozen=True)
class WorkerUser:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Options:
    """What the settings ask of the sandbox."""

    user: str
    uid: int | None
    gid: int | None
    hide: tuple[str, ...]
    limits: Limits
    connect_ports: tuple[int, ...]
    work_dir: Path
    allow_unsandboxed: bool

    @classmethod
    def from_settings(cls, s: Settings) -> Options:
        return cls(
            user=s.sandbox_user,
            uid=s.sandbox_uid,
            gid=s.sandbox_gid,
            hide=tuple(os.path.realpath(p) for p in s.sandbox_hide),
            limits=Limits(
                cpu_s=s.worker_cpu_s,
                address_space_bytes=s.worker_memory_bytes,
                open_files=s.worker_open_files,
                processes=s.worker_processes,
                output_bytes=s.worker_output_bytes,
            ),
            connect_ports=nats_ports(s.worker_nats_url or s.nats_url),
            work_dir=Path(os.path.realpath(s.work_dir)),
            allow_unsandboxed=s.allow_unsandboxed,
        )


# ------------------------------------------------------------------------------------------- the worker user


def _tool(name: str) -> str:
    found = shutil.which(name) or next((f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)), None)
    if found is None:
        raise SandboxSetupError(f"the user is missing and `{name}` is not installed to create it")
    return found


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return "" if done.returncode == 0 else (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"


def create_user(name: str, uid: int | None, gid: int | None) -> None:
    """``useradd --system`` (and ``groupadd`` for a configured gid that has no group yet)."""
    argv = [
        _tool("useradd"),
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
    ]
    if uid is not None:
        argv += ["--uid", str(uid)]
    if gid is None:
        argv.append("--user-group")
    else:
        try:
            grp.getgrgid(gid)
        except KeyError:
            if problem := _run([_tool("groupadd"), "--system", "--gid", str(gid), name]):
                raise SandboxSetupError(f"groupadd --gid {gid} {name} failed: {problem}") from None
        argv += ["--gid", str(gid)]
    problem = _run([*argv, name])
    if problem:
        with contextlib.suppress(KeyError):  # another executor of this host created it meanwhile
            pwd.getpwnam(name)
            return
        raise SandboxSetupError(f"useradd {name} failed: {problem}")


def ensure_user(name: str, uid: int | None, gid: int | None) -> WorkerUser:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        create_user(name, uid, gid)
        entry = pwd.getpwnam(name)
        log.info("created the worker user %s (uid %d)", name, entry.pw_uid)
    if uid is not None and entry.pw_uid != uid:
        raise SandboxSetupError(f"the user {name} has uid {entry.pw_uid}, not the configured {uid}")
    user = WorkerUser(name, entry.pw_uid, entry.pw_gid if gid is None else gid)
    if user.uid == 0 or user.gid == 0:
        raise SandboxSetupError(f"the worker user {name} is root (uid {user.uid}, gid {user.gid})")
    return user


# ------------------------------------------------------------------------------------------- what a worker reads


def python_trees() -> tuple[str, ...]:
    """The interpreter's and the virtualenv's trees and every ``sys.path`` entry of this interpreter (a worker is
    the same interpreter with the same site packages), resolved."""
    trees: list[str] = []
    for entry in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix, *sys.path):
        if entry and os.path.exists(entry):
            path = os.path.realpath(entry)
            if path != "/" and path not in trees:
                trees.append(path)
    return tuple(trees)


def mode_of(path: str) -> Mode | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mode, st.st_uid, st.st_gid) if os.path.isdir(path) else None


def make_undumpable() -> bool:
    """``PR_SET_DUMPABLE 0`` for the executor: its ``/proc/<pid>/environ`` (the database URL) and memory are then
    root's only, even for processes of its own user. True when it took."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0


# ------------------------------------------------------------------------------------------- the sandbox


@dataclass
class Sandbox:
    options: Options
    report: SandboxReport
    user: WorkerUser | None = None
    """Set when the ``uid`` layer is active."""
    mounts: bool = False
    """Whether workers get a private mount namespace."""
    executor_dumpable: bool = True
    trees: tuple[str, ...] = field(default_factory=python_trees)

    @classmethod
    def start(cls, settings: Settings) -> Sandbox:
        """Probe and report (blocking: the executor's start-up, before it serves)."""
        options = Options.from_settings(settings)
        dumpable = not make_undumpable()
        user, why_not = None, ""
        if os.geteuid() != 0:
            why_not = (
                f"the executor runs as uid {os.geteuid()}, not root, so it cannot give workers a user of their own: "
                "run it as root (in a container: with CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL)"
            )
        else:
            try:
                user = ensure_user(options.user, options.uid, options.gid)
            except (SandboxSetupError, OSError, subprocess.SubprocessError) as exc:
                why_not = str(exc)
        sandbox = probe(options, user, why_not)
        sandbox.executor_dumpable = dumpable
        sandbox.log_report()
        return sandbox

    # ------------------------------------------------------------------ per worker

    def spec_for(self, run_dir: Path, *, probe: bool = False) -> LaunchSpec:
        """The launch spec of one worker: exactly the layers found active (the probe's own spec asks for all)."""
        active = self.report.active
        user = self.user if "uid" in active or probe else None
        mounts = None
        if user is not None and (self.mounts or probe):
            hide = self.options.hide
            mounts = plan_mounts(self.trees, str(run_dir), hide, user.uid, user.gid, mode_of)
        return LaunchSpec(
            run_dir=str(run_dir),
            parent_pid=os.getpid(),
            uid=user.uid if user else None,
            gid=user.gid if user else None,
            mounts=mounts,
            limits=self.options.limits if "rlimits" in active or probe else None,
            landlock="landlock-fs" in active or probe,
            connect_ports=self.options.connect_ports if "landlock-net" in active or probe else None,
            seccomp="seccomp" in active or probe,
            probe=probe,
        )

    def owner(self, *, probe: bool = False) -> tuple[int, int] | None:
        """Whose a worker's run directory and job file are: the worker user's when the ``uid`` layer is active."""
        if self.user is None or not ("uid" in self.report.active or probe):
            return None
        return self.user.uid, self.user.gid

    @staticmethod
    def prepare(run_dir: Path, owner: tuple[int, int] | None) -> None:
        """Create the run directory for the worker: ``owner``'s (None: ours), mode 0700, never through a symlink."""
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)

    @staticmethod
    def command(spec: LaunchSpec, worker_argv: list[str]) -> list[str]:
        return [sys.executable, "-I", "-m", LAUNCHER, spec.to_json(), "--", *worker_argv]

    def verdict(self, role: str) -> Verdict:
        return decide(self.report, role, self.options.allow_unsandboxed)

    # ------------------------------------------------------------------ reporting

    def health(self) -> dict[str, str]:
        details = {
            "sandbox": ",".join(layer for layer in LAYERS if layer in self.report.active),
            "sandbox_missing": self.report.missing_text(),
        }
        if self.report.missing and self.options.allow_unsandboxed:
            details["sandbox_policy"] = "runs of non-admins start unsandboxed (PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED)"
        return details

    def describe(self) -> str:
        lines = ["worker sandbox:"]
        for layer in LAYERS:
            state, text = (
                ("active ", self.report.active[layer])
                if layer in self.report.active
                else ("MISSING", self.report.missing[layer])
            )
            lines.append(f"  {layer:<13}{state}  {text}")
        lines.append(
            f"  {'executor':<13}{'DUMPABLE' if self.executor_dumpable else 'not dumpable (PR_SET_DUMPABLE 0)'}"
        )
        return "\n".join(lines)

    def log_report(self) -> None:
        if self.report.complete:
            log.info("%s", self.describe())
        elif self.options.allow_unsandboxed:
            log.error(
                "%s\nPRAXIS_EXECUTOR_ALLOW_UNSANDBOXED is set: runs of non-admins START WITHOUT THE MISSING LAYERS",
                self.describe(),
            )
        else:
            log.warning("%s\nruns of non-admins are refused until every layer is active", self.describe())


# ------------------------------------------------------------------------------------------- the probe


def probe(options: Options, user: WorkerUser | None, why_no_user: str) -> Sandbox:
    """Start throw-away workers through the real launcher and keep what held (see the module's docstring)."""
    draft = Sandbox(options, SandboxReport(active={}, missing=dict.fromkeys(LAYERS, "not probed yet")), user=user)
    outcome, problem = _run_probe(draft)
    if outcome is None and user is not None:  # it could not even start as the worker user: try without
        why_no_user = f"a worker as {user.name} (uid {user.uid}) could not start: {problem}. {_reach_hint()}"
        draft.user = None
        outcome, problem = _run_probe(draft)
    if outcome is None:
        outcome = {layer: {"ok": False, "detail": f"the probe worker did not start: {problem}"} for layer in LAYERS}
    if draft.user is None and why_no_user:
        outcome["uid"] = {"ok": False, "detail": why_no_user}
    active = {k: str(v["detail"]) for k, v in outcome.items() if k in LAYERS and v["ok"]}
    missing = {k: str(outcome.get(k, {"detail": "not reported"})["detail"]) for k in LAYERS if k not in active}
    namespace = outcome.get("mountns", {"ok": False, "detail": "not reported"})
    mounts = bool(namespace["ok"])
    if "uid" in active and draft.user is not None:
        where = namespace["detail"] if mounts else f"no private mount namespace ({namespace['detail']})"
        active["uid"] = f"{draft.user.name}: {active['uid']}; {where}"
    return Sandbox(options, SandboxReport(active, missing), user=draft.user, mounts=mounts, trees=draft.trees)


def _reach_hint() -> str:
    return (
        f"Its interpreter ({os.path.realpath(sys.base_prefix)}) and virtualenv ({os.path.realpath(sys.prefix)}) must be "
        "reachable by that user: run the executor as root with CAP_SYS_ADMIN (a private mount namespace then binds "
        "them in), or install Python and the virtualenv where that user can read them (e.g. /usr/local, /opt)"
    )


def _run_probe(draft: Sandbox) -> tuple[dict[str, dict[str, object]] | None, str]:
    """One probe worker; (its report, "") or (None, why it gave none)."""
    run_dir = draft.options.work_dir / f".sandbox-probe-{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        Sandbox.prepare(run_dir, draft.owner(probe=True))
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            argv = [sys.executable, "-I", "-m", PROBE, str(listener.getsockname()[1])]
            done = subprocess.run(
                Sandbox.command(draft.spec_for(run_dir, probe=True), argv),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(run_dir), "TMPDIR": str(run_dir)},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                check=False,
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return _parse_probe(done.stdout, done.stderr, done.returncode)


def _parse_probe(stdout: str, stderr: str, code: int) -> tuple[dict[str, dict[str, object]] | None, str]:
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        parsed = json.loads(last) if last else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("type") == "finished":
        return None, str(parsed.get("error"))
    if isinstance(parsed, dict) and all(isinstance(v, dict) and "ok" in v for v in parsed.values()):
        return parsed, ""
    tail = (stderr.strip().splitlines() or [f"exit code {code}"])[-1]
    return None, tail[:500]
