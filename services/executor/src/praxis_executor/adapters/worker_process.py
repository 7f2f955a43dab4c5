"""One worker OS process: its directory, job file, pipes and exit, and nothing about runs.

The worker is started in a session (and process group) of its own, so signals aimed at the executor's group do
not reach it and everything the protocol forks can be stopped as one group. It dies with its executor
(``PR_SET_PDEATHSIG``): an executor killed with ``kill -9`` leaves no worker driving a run behind it, which is
what lets another replica (or the restarted executor) take the run over after its lease.

With a :class:`~praxis_executor.adapters.sandbox.Sandbox` the worker starts through the sandbox launcher (a user
of its own, a private mount namespace, resource limits) and confines itself before it loads the protocol; its run
directory is its cwd, HOME and TMPDIR. That directory is the worker's, so the executor (root) touches it only
through descriptors opened without following links: a job file or stderr log the worker replaced with a symlink,
a FIFO or a hard link never makes the executor write or read anything else. When the worker exits, whatever it
left running dies with it (its process group, and whatever else shares its private mount namespace), so a
leftover process cannot hold the report pipe open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import signal
import stat
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from praxis_executor.adapters.sandbox import Sandbox
from praxis_executor.worker.protocol import encode_line

PR_SET_PDEATHSIG = 1
REPORT_LINE_LIMIT = 80 * 1024 * 1024
"""Longest report line accepted (a finished report carries the outputs; the worker caps them below this)."""
WORKER_MODULE = "praxis_executor.worker"
JOB, STDERR = "job.json", "worker.stderr"
DRAIN_AFTER_EXIT_S = 5.0
"""Once the worker has exited (and its leftovers were killed), how long the rest of its report pipe is read."""
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
Owner = tuple[int, int]


def _out_of_the_way(dir_fd: int, name: str) -> None:
    """Rename whatever the worker left under ``name`` (a link, a directory, a FIFO) aside: never follow it."""
    with contextlib.suppress(FileNotFoundError):
        os.rename(name, f"{name}.replaced-{time.time_ns()}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _write_job(dir_fd: int, job: BaseModel, owner: Owner | None) -> None:
    _out_of_the_way(dir_fd, JOB)
    fd = os.open(JOB, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        if owner is not None:
            os.fchown(f.fileno(), *owner)
        f.write(job.model_dump_json().encode())


def _is_our_log(fd: int) -> bool:
    st = os.fstat(fd)
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1


def _open_stderr(dir_fd: int) -> tuple[int, tuple[int, int]]:
    """The stderr log (appended to across generations), and its identity for :meth:`WorkerProcess.stderr_tail`.

    It stays the executor's file (the worker only gets the descriptor), opened non-blocking so that a FIFO
    planted in its place cannot hang the executor, and recreated when it is not our own plain file."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = -1
    with contextlib.suppress(OSError):
        fd = os.open(STDERR, flags, 0o600, dir_fd=dir_fd)
    if fd >= 0 and not _is_our_log(fd):
        os.close(fd)
        fd = -1
    if fd < 0:
        _out_of_the_way(dir_fd, STDERR)
        fd = os.open(STDERR, flags | os.O_EXCL, 0o600, dir_fd=dir_fd)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    st = os.fstat(fd)
    return fd, (st.st_dev, st.st_ino)


@dataclass(frozen=True)
class Prepared:
    argv: list[str]
    env: dict[str, str]
    stderr_fd: int
    stderr_id: tuple[int, int]


def _prepare(run_dir: Path, job: BaseModel, env: dict[str, str], sandbox: Sandbox | None) -> Prepared:
    """The run directory, job file and stderr log, and the command line (blocking: run in a thread)."""
    owner = sandbox.owner() if sandbox is not None else None
    if sandbox is not None:
        Sandbox.prepare(run_dir, owner)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(run_dir, DIR_FLAGS)
    try:
        _write_job(dir_fd, job, owner)
        stderr_fd, stderr_id = _open_stderr(dir_fd)
    finally:
        os.close(dir_fd)
    job_path = str(run_dir / JOB)
    if sandbox is None:
        return Prepared([sys.executable, "-m", WORKER_MODULE, job_path], env, stderr_fd, stderr_id)
    worker = [sys.executable, "-I", "-u", "-m", WORKER_MODULE, job_path]  # -I: nothing from cwd, env or user site
    argv = Sandbox.command(sandbox.spec_for(run_dir), worker)
    return Prepared(argv, {**env, "HOME": str(run_dir), "TMPDIR": str(run_dir)}, stderr_fd, stderr_id)


class _WorkerProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's stream protocol that also says when the process itself has exited: ``Process.wait()`` waits for
    the pipes to close as well, which a leftover process holding them would delay for ever."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=1 << 16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _mount_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _sweep(namespace: str) -> None:
    """SIGKILL every process in the worker's private mount namespace: what left its process group (``setsid``)
    cannot leave the namespace (the seccomp filter refuses ``setns``/``unshare``)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _mount_namespace(entry.name) == namespace:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


@dataclass
class ExitStatus:
    code: int | None
    signal: int | None


class WorkerProcess:
    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        run_dir: Path,
        stderr_id: tuple[int, int] | None = None,
        exited: asyncio.Future[None] | None = None,
        transport: asyncio.SubprocessTransport | None = None,
    ) -> None:
        self.proc = proc
        self.run_dir = run_dir
        self._stderr_id = stderr_id
        self._exited = exited
        self._transport = transport
        self._namespace: str | None = None
        self._drain_until: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, run_dir: Path, job: BaseModel, env: dict[str, str], sandbox: Sandbox | None = None
    ) -> WorkerProcess:
        prepared = await asyncio.to_thread(_prepare, run_dir, job, env, sandbox)
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _WorkerProtocol(loop),
                *prepared.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=prepared.stderr_fd,
                env=prepared.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            os.close(prepared.stderr_fd)
        proc = asyncio.subprocess.Process(transport, protocol, loop)
        return cls(proc, run_dir, prepared.stderr_id, protocol.exited, transport)

    async def lines(self) -> AsyncIterator[list[bytes]]:
        """Report lines in batches: every complete line already written comes with the first one, so a busy
        worker's reports are journaled together. A line longer than the limit ends the stream with an
        ``oversized`` marker (the worker caps its outputs below it; only hostile code writes such a line)."""
        stdout = self.proc.stdout
        assert stdout is not None
        pending: list[bytes] = []
        size = 0
        while chunk := await self._read(stdout):
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

    async def _exit(self) -> None:
        """Returns once the worker process has exited (its pipes may still be held by what it left behind)."""
        if self._exited is None:
            await self.proc.wait()
        else:
            await asyncio.shield(self._exited)

    async def _read(self, stdout: asyncio.StreamReader) -> bytes:
        """The next chunk (b"" at the end). Once the worker has exited, what it left running is killed and the
        rest is read for a bounded time: a process that escaped cannot hold the pipe, and the run, for ever."""
        if self._drain_until is None:
            read = asyncio.ensure_future(stdout.read(1 << 16))
            exited = asyncio.ensure_future(self._exit())
            await asyncio.wait((read, exited), return_when=asyncio.FIRST_COMPLETED)
            exited.cancel()
            if read.done():
                self._note_namespace()
                return read.result()
            read.cancel()
            self._drain_until = time.monotonic() + DRAIN_AFTER_EXIT_S
            self.kill()
        try:
            return await asyncio.wait_for(stdout.read(1 << 16), max(0.0, self._drain_until - time.monotonic()))
        except TimeoutError:
            return b""

    def _note_namespace(self) -> None:
        """Once the worker writes, it is past its launcher: remember its private mount namespace, if it has one."""
        if self._namespace is None:
            namespace = _mount_namespace(self.proc.pid)
            if namespace is not None and namespace != _mount_namespace("self"):
                self._namespace = namespace

    def send(self, control: BaseModel) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            stdin.write(encode_line(control))

    def kill(self) -> None:
        """SIGKILL to the worker's whole process group (whatever the protocol forked goes with it), and to anything
        else in its private mount namespace."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._namespace is not None:
            _sweep(self._namespace)

    async def wait(self) -> ExitStatus:
        """The worker's exit status, once it has exited; what it left running is killed and its pipes closed."""
        await self._exit()
        code = self._transport.get_returncode() if self._transport is not None else self.proc.returncode
        assert code is not None  # set before the protocol hears of the exit
        self.kill()  # reap anything the protocol left running in the group
        if self._transport is not None:
            self._transport.close()  # a pipe still held by a process that escaped is ours to drop
        if code < 0:
            return ExitStatus(code=None, signal=-code)
        return ExitStatus(code=code, signal=None)

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the stderr log, if it is still the file the executor opened for this worker."""
        try:
            dir_fd = os.open(self.run_dir, DIR_FLAGS)
            try:
                fd = os.open(STDERR, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(fd)
                if self._stderr_id is not None and (st.st_dev, st.st_ino) != self._stderr_id:
                    return "(the worker replaced its stderr log; it is not read)"
                f.seek(max(0, st.st_size - limit))
                return f.read(limit).decode(errors="replace")
        except OSError:
            return ""
