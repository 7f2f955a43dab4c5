"""Run Praxis services (their console scripts) as real subprocesses, with logs in files.

End-to-end tests and ``praxis-dev run`` both need the same things: start ``praxis-<svc> serve``
with the right ``PRAXIS_*`` environment, keep its output somewhere readable when it crashes, and
stop it politely (SIGTERM, so it can drain) but surely (SIGKILL after a timeout), never leaving a
process behind - not even when the caller forgets, hence the ``atexit`` hook in :class:`ServiceStack`.
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
    cleaned up as a group.
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
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        cmd = self.command()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        try:
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
            self._log.close()
            self._log = None
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
            self._signal_group(signal.SIGKILL)
            proc.wait()
        self._reap_group()
        return proc.returncode

    def _signal_group(self, sig: int) -> bool:
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _reap_group(self) -> None:
        """The service is gone; make sure nothing it forked into its group lingers, then close the log."""
        if self._signal_group(signal.SIGTERM):
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self._signal_group(0):
                time.sleep(0.02)
            self._signal_group(signal.SIGKILL)
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
