"""One worker OS process: its directory, job file, pipes and exit, and nothing about runs.

The worker is started in a session (and process group) of its own, so signals aimed at the executor's group do
not reach it and everything the protocol forks can be stopped as one group. It dies with its executor
(``PR_SET_PDEATHSIG``): an executor killed with ``kill -9`` leaves no worker driving a run behind it, which is
what lets another replica (or the restarted executor) take the run over after its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from praxis_executor.worker.protocol import encode_line

PR_SET_PDEATHSIG = 1
REPORT_LINE_LIMIT = 80 * 1024 * 1024
"""Longest report line accepted (a finished report carries the outputs; the worker caps them below this)."""


def _write_job(run_dir: Path, job: BaseModel) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.json"
    path.write_text(job.model_dump_json())
    return path


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ExitStatus:
    code: int | None
    signal: int | None


class WorkerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, run_dir: Path) -> None:
        self.proc = proc
        self.run_dir = run_dir

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(cls, run_dir: Path, job: BaseModel, env: dict[str, str]) -> WorkerProcess:
        job_path = await asyncio.to_thread(_write_job, run_dir, job)
        with (run_dir / "worker.stderr").open("ab") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "praxis_executor.worker",
                str(job_path),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return cls(proc, run_dir)

    async def lines(self) -> AsyncIterator[list[bytes]]:
        """Report lines in batches: every complete line already written comes with the first one, so a busy
        worker's reports are journaled together. A line longer than the limit ends the stream with an
        ``oversized`` marker (the worker caps its outputs below it; only hostile code writes such a line)."""
        stdout = self.proc.stdout
        assert stdout is not None
        pending: list[bytes] = []
        size = 0
        while chunk := await stdout.read(1 << 16):
            if b"\n" not in chunk:
                pending.append(chunk)
                size += len(chunk)
                if size > REPORT_LINE_LIMIT:
                    yield [b'{"type": "oversized"}']
                    return
                continue
            *complete, rest = (b"".join(pending) + chunk).split(b"\n")
            pending, size = ([rest], len(rest)) if rest else ([], 0)
            yield complete

    def send(self, control: BaseModel) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            stdin.write(encode_line(control))

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group (whatever the protocol forked goes with it)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    async def wait(self) -> ExitStatus:
        code = await self.proc.wait()
        self.kill()  # reap anything the protocol left running in the group
        if code < 0:
            return ExitStatus(code=None, signal=-code)
        return ExitStatus(code=code, signal=None)

    def stderr_tail(self, limit: int = 4000) -> str:
        path = self.run_dir / "worker.stderr"
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""
