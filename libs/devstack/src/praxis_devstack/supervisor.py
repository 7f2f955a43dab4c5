"""Keep services running: restart one that exited, with exponential backoff, as systemd or Kubernetes would.

A service that dies while the stack is up is restarted after ``initial_delay``, doubling per exit in a row
up to ``max_delay``; a run that stayed up ``reset_after`` seconds starts the count afresh. Each exit is one
console line (plus the service's log tail the first time, not on every turn of a crash loop). A service
that never came up - it exited ``startup_crash_limit`` times in a row, and neither ran without exiting
until the stack became healthy nor ever stayed up ``reset_after`` - is a misconfiguration:
:meth:`Supervisor.tick` raises :class:`DevStackError` with its log tail instead of looping forever.

:meth:`Supervisor.tick` never sleeps or waits: a due restart is started, a fresh exit is scheduled, and
control returns, so whoever drives it (``praxis-dev run``'s loop, a drill's own loop or a thread) can stop
the stack between two ticks.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Protocol

from praxis_devstack.console import say, warn
from praxis_devstack.errors import DevStackError

LOG_TAIL_LINES = 30
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class RestartPolicy:
    """How supervision restarts services. Seconds throughout; tests use tiny delays.

    ``poll`` is how often :meth:`DevStack.supervise` looks (it also wakes for a restart that is due sooner).
    """

    initial_delay: float = 1.0
    max_delay: float = 30.0
    reset_after: float = 60.0
    startup_crash_limit: int = 3
    poll: float = 0.5

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError(f"need 0 <= initial_delay <= max_delay, got {self.initial_delay}, {self.max_delay}")
        if self.startup_crash_limit < 1 or self.poll <= 0 or self.reset_after <= 0:
            raise ValueError("startup_crash_limit must be >= 1, poll and reset_after > 0")

    def delay(self, exits_in_a_row: int) -> float:
        """Backoff before the restart that follows the ``exits_in_a_row``-th exit (1 -> ``initial_delay``)."""
        if exits_in_a_row < 1:
            raise ValueError(f"exits_in_a_row must be >= 1, got {exits_in_a_row}")
        return float(min(self.initial_delay * 2 ** min(exits_in_a_row - 1, 32), self.max_delay))


class Supervised(Protocol):
    """What supervision needs of a service process (:class:`praxis_testkit.services.ServiceProcess`)."""

    @property
    def log_path(self) -> Path: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def alive(self) -> bool: ...
    @property
    def returncode(self) -> int | None: ...
    @property
    def restarts(self) -> int: ...
    def restart(self, marker: str | None = None) -> object: ...
    def signal_group(self, sig: int) -> bool: ...
    def log_tail(self, lines: int = 30) -> str: ...


def describe_exit(code: int | None) -> str:
    """``exited with code 3`` / ``was killed by SIGKILL``: how a console line says why a process ended."""
    if code is None:
        return "exited"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def tail_block(proc: Supervised, lines: int = LOG_TAIL_LINES) -> str:
    tail = proc.log_tail(lines) or "(log is empty)"
    return f"--- last {lines} lines of {proc.log_path} ---\n{tail}\n--- end of {proc.log_path.name} ---"


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM/SIGHUP back until the block is done (main thread only; elsewhere a no-op).

    ``praxis-dev`` turns these signals into KeyboardInterrupt; landing half-way through a restart it could
    leave a just-spawned process that nothing knows about, i.e. one that outlives the stack. So the Python
    handlers are swapped for one that notes the signal, and the signal is raised again afterwards. Not
    ``pthread_sigmask``: a blocked mask is inherited across fork+exec, and a service restarted under it
    would never see the SIGTERM that stops it (while handlers are reset by exec).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])


@dataclass
class _Track:
    """Supervision state of one service."""

    proc: Supervised
    started_at: float
    exits_in_a_row: int = 0
    proven: bool = False  # it ran while the stack was healthy, or stayed up reset_after: not a misconfiguration
    due: float | None = None  # when the scheduled restart is due (clock time); None = none scheduled


class Supervisor:
    """Restart policy applied to a set of named services; driven by :meth:`tick`, never blocking."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._tracks: dict[str, _Track] = {}
        self._closed = False

    def add(self, name: str, proc: Supervised) -> None:
        """Supervise ``proc`` (just started) under ``name``."""
        if name in self._tracks:
            raise ValueError(f"service {name!r} is already supervised")
        self._tracks[name] = _Track(proc, started_at=self._clock())

    @property
    def names(self) -> list[str]:
        return list(self._tracks)

    def close(self) -> None:
        """No restarts from now on (the stack is stopping); later ticks do nothing."""
        self._closed = True

    def mark_healthy(self) -> None:
        """The stack came up: every service that has run since its start without exiting is known to work.

        One that exited meanwhile is not, even if it happens to be running right now (it may be a crash loop
        caught between two turns); it proves itself by staying up ``reset_after`` seconds.
        """
        for track in self._tracks.values():
            if track.due is None and track.exits_in_a_row == 0 and track.proc.alive:
                track.proven = True

    def seconds_until_due(self) -> float | None:
        """Time until the next scheduled restart (0 if overdue), ``None`` if none is scheduled."""
        dues = [track.due for track in self._tracks.values() if track.due is not None]
        return max(min(dues) - self._clock(), 0.0) if dues else None

    def tick(self) -> None:
        """One look at every service: start due restarts, schedule restarts for fresh exits.

        Raises :class:`DevStackError` (exit code 1) for a service that keeps exiting before it ever came up.
        """
        if self._closed:
            return
        now = self._clock()
        for name, track in self._tracks.items():
            if track.due is not None:
                if now >= track.due:
                    self._restart(name, track, now)
            elif track.proc.alive:
                if now - track.started_at >= self.policy.reset_after:
                    track.exits_in_a_row, track.proven = 0, True
            elif track.proc.pid is not None:
                self._exited(name, track, now)

    def _exited(self, name: str, track: _Track, now: float) -> None:
        uptime = now - track.started_at
        if uptime >= self.policy.reset_after:
            track.exits_in_a_row, track.proven = 0, True
        # Leftovers in its process group get SIGTERM now and SIGKILL at the restart (systemd's order).
        track.proc.signal_group(signal.SIGTERM)
        self._schedule(name, track, now, f"{describe_exit(track.proc.returncode)} after {uptime:.1f}s")

    def _schedule(self, name: str, track: _Track, now: float, what: str) -> None:
        track.exits_in_a_row += 1
        if not track.proven and track.exits_in_a_row >= self.policy.startup_crash_limit:
            raise DevStackError(
                f"{name} {what} ({track.exits_in_a_row} times in a row, and it never came up; giving up)\n"
                f"{tail_block(track.proc)}",
                exit_code=1,
            )
        delay = self.policy.delay(track.exits_in_a_row)
        track.due = now + delay
        in_a_row = f" ({track.exits_in_a_row} exits in a row)" if track.exits_in_a_row > 1 else ""
        warn(f"praxis-dev: {name} {what}; restart #{track.proc.restarts + 1} in {delay:g}s{in_a_row}")
        if track.exits_in_a_row == 1:
            warn(tail_block(track.proc))

    def _restart(self, name: str, track: _Track, now: float) -> None:
        track.due = None
        track.started_at = now
        marker = f"praxis-dev: restart #{track.proc.restarts + 1} of {name} ({_utc_now()})"
        try:
            track.proc.restart(marker)
        except OSError as exc:  # e.g. the console script vanished: counts as one more exit
            self._schedule(name, track, now, f"could not be restarted ({exc})")
            return
        say(f"praxis-dev: restarted {name} (pid {track.proc.pid})")


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BackgroundTicker:
    """Calls ``tick`` in a daemon thread, sleeping ``nap()`` seconds in between, until :meth:`stop`.

    For a drill that runs its own loop and wants supervision to just happen. A :class:`DevStackError` from
    ``tick`` (a service that never came up) ends the thread: it is kept in :attr:`error` and printed, and
    nothing is stopped - that is the caller's call.
    """

    def __init__(self, tick: Callable[[], None], nap: Callable[[], float]) -> None:
        self.error: DevStackError | None = None
        self._tick = tick
        self._nap = nap
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="praxis-supervise", daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for it: after this, ``tick`` is not running and won't run again."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except DevStackError as exc:
                self.error = exc
                warn(f"praxis-dev: {exc}")
                return
            self._stopping.wait(self._nap())
