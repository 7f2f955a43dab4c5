"""Run Praxis services (their console scripts) as real subprocesses, with logs in files.

End-to-end tests and ``praxis-dev run`` both need the same things: start ``praxis-<svc> serve``
with the right ``PRAXIS_*`` environment, keep its output somewhere readable when it crashes, and
stop it politely (SIGTERM, so it can drain) but surely (SIGKILL after a timeout), never leaving a
process behind - not even when the caller forgets, hence the ``atexit`` hook in :class:`ServiceStack`.
A supervisor can :meth:`ServiceProcess.restart` a service that exited: same command, same log file.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["ServiceProcess", "ServiceStack", "console_script"]

_ENV_KEYS = ("PRAXIS_NATS_URL", "PRAXIS_DATABASE_URL")


def console_script(name: str) -> Path:
    """Path of the console script ``name`` installed next to this interpreter (the venv's ``bin``)."""
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"console script {name!r} not found in {dirs[0]}; is its package installed? run `uv sync --frozen`"
    )


class ServiceProcess:
    """One console script run as a subprocess, output (stdout+stderr) going to ``<log_dir>/<log_name>.log``.

    ``env`` is layered over ``os.environ``; pass ``PRAXIS_NATS_URL``/``PRAXIS_DATABASE_URL`` there.
    The child gets its own session (process group): a terminal Ctrl-C only reaches the supervisor,
    which stops children in a sensible order, and worker processes the service forks can be
    cleaned up as a group. The object outlives one run: after :meth:`restart` it stands for the new
    process (``pid`` changes, ``restarts`` counts up), so callers may hold on to it.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        *,
        log_name: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(env or {})
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="praxis-logs-"))
        self.log_path = self.log_dir / f"{log_name or name}.log"
        self.cwd = Path(cwd) if cwd is not None else None
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._terminated = False
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"ServiceProcess({self.name!r}, pid={self.pid}, returncode={self.returncode})"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def command(self) -> list[str]:
        return [str(console_script(self.name)), *self.args]

    def start(self) -> Self:
        """Start the process; its log file is truncated (a fresh run, a fresh log)."""
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        return self._spawn(append=False, marker=None)

    def restart(self, marker: str | None = None) -> Self:
        """Start the same command again after the process exited; the log is appended to, not truncated.

        ``marker`` (default: ``restart #N of <name> at <UTC time>``) is written to the log on a line of its own
        first, so the runs stay apart and nothing the previous run wrote is lost. Whatever the previous run
        forked into its process group is SIGKILLed first, as systemd (``KillMode=control-group``) or a
        container restart would: an orphaned worker of a dead service must not run beside its successor's.
        Raises ``RuntimeError`` while the process is still running (stop or kill it first).
        """
        if self.alive:
            raise RuntimeError(f"{self.name} is still running (pid {self.pid}); it can only be restarted once exited")
        if self._proc is not None:
            self.signal_group(signal.SIGKILL)
        self._close_log()
        self._proc = None
        self._terminated = False
        self.restarts += 1
        when = datetime.now(UTC).isoformat(timespec="seconds")
        return self._spawn(append=True, marker=marker or f"restart #{self.restarts} of {self.name} at {when}")

    def _spawn(self, *, append: bool, marker: str | None) -> Self:
        cmd = self.command()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab" if append else "wb")
        try:
            if marker is not None:
                self._log.write(f"\n----- {marker} -----\n".encode())
                self._log.flush()  # before the child writes to the same file
            self._proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._close_log()
            raise
        return self

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit and return its exit code (``subprocess.TimeoutExpired`` on timeout)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        code = self._proc.wait(timeout)
        self._reap_group()
        return code

    def terminate(self) -> None:
        """Send SIGTERM without waiting (lets a caller stop many services in parallel).

        Only once per start: a second SIGTERM while a service is already shutting down gracefully may hit it
        after it restored default signal handling, and kill it mid-cleanup.
        """
        if self._proc is not None and self._proc.poll() is None and not self._terminated:
            self._terminated = True
            self._proc.send_signal(signal.SIGTERM)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the service's main process only (e.g. ``SIGKILL`` in a crash drill).

        Raises ``ProcessLookupError`` if it is not running: a signal that reaches nobody is a mistake to report.
        """
        if self._proc is None or self._proc.poll() is not None:
            raise ProcessLookupError(f"{self.name} is not running")
        self._proc.send_signal(sig)

    def group_pids(self) -> list[int]:
        """PIDs of the other live processes in the service's process group (e.g. the executor's run workers).

        Read from ``/proc`` (Linux); ``[]`` where there is none, or when the service was never started. A
        process that moved to a group of its own (``setsid``) is not listed.
        """
        if self._proc is None:
            return []
        return [pid for pid in _pids_in_group(self._proc.pid) if pid != self._proc.pid]

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL to the whole process group after ``timeout``; returns the exit code.

        Returns ``None`` if the process was never started. A negative code ``-N`` means killed by signal N.
        """
        proc = self._proc
        if proc is None:
            return None
        self.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            proc.wait()
        self._reap_group()
        return proc.returncode

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole process group (the service and what it forked); False if none is left.

        Also valid after the service itself exited: the group lives on as long as one of its members does.
        """
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _reap_group(self) -> None:
        """The service is gone; make sure nothing it forked into its group lingers, then close the log."""
        if self.signal_group(signal.SIGTERM):
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self._group_running():
                time.sleep(0.02)
            self.signal_group(signal.SIGKILL)
        self._close_log()

    def _group_running(self) -> bool:
        """Is a member of the group still running? Zombies waiting for init to reap them don't count."""
        if self._proc is None:
            return False
        if Path("/proc/self/stat").exists():
            return bool(_pids_in_group(self._proc.pid))
        return self.signal_group(0)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        """Everything the process wrote so far (stdout and stderr interleaved)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _pids_in_group(pgid: int) -> list[int]:
    """Every live PID whose process group is ``pgid`` (field 5 of ``/proc/<pid>/stat``)."""
    try:
        entries = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    except OSError:
        return []
    found: list[int] = []
    for entry in entries:
        try:
            # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last one.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            found.append(int(entry.name))
    return sorted(found)


class ServiceStack:
    """Several :class:`ServiceProcess` sharing a log dir and base env; stopped together (and at exit).

    ``base_env`` defaults to the ``PRAXIS_NATS_URL``/``PRAXIS_DATABASE_URL`` of the current environment.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        base_env: Mapping[str, str] | None = None,
        *,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="praxis-logs-"))
        if base_env is None:
            base_env = {k: os.environ[k] for k in _ENV_KEYS if k in os.environ}
        self.base_env = dict(base_env)
        self.cwd = cwd
        self.processes: list[ServiceProcess] = []
        self._atexit_registered = False

    def start(
        self,
        name: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        log_name: str | None = None,
    ) -> ServiceProcess:
        """Start ``name`` with ``args``; ``env`` is layered over the stack's base env."""
        proc = ServiceProcess(
            name, args, {**self.base_env, **(env or {})}, self.log_dir, log_name=log_name, cwd=self.cwd
        )
        if not self._atexit_registered:
            atexit.register(self.stop_all)
            self._atexit_registered = True
        self.processes.append(proc)
        proc.start()
        return proc

    def dead(self) -> list[ServiceProcess]:
        """Processes that have exited (normally none while the stack is supposed to be up)."""
        return [p for p in self.processes if p.pid is not None and not p.alive]

    def stop_all(self, timeout: float = 10.0, order: Iterable[ServiceProcess] | None = None) -> dict[str, int | None]:
        """SIGTERM every process at once, wait up to ``timeout`` overall, then SIGKILL stragglers.

        Returns ``{log_name: exit code}``. Safe to call more than once.
        """
        procs = list(order) if order is not None else list(reversed(self.processes))
        for proc in procs:
            proc.terminate()
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for proc in procs:
            codes[proc.log_path.stem] = proc.stop(timeout=max(deadline - time.monotonic(), 0.0))
        self.processes = [p for p in self.processes if p not in procs]
        if not self.processes and self._atexit_registered:
            atexit.unregister(self.stop_all)
            self._atexit_registered = False
        return codes

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
