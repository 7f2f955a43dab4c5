"""Run control as the worker sees it: a checkpoint before every machine call, and the ways a run stops.

Cancel, pause and suspend take effect before the next machine call, never in the middle of one: the devices are
left between two complete operations. The exceptions that stop a run derive from ``BaseException`` so that a
protocol's ``except Exception`` (or PLR's own error handling around backend calls) cannot swallow them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from praxis_contracts.runs import ParkKind, RecoveryChoice


class RunCancelled(BaseException):
    """The run was cancelled; raised at the next checkpoint."""


class RunSuspended(BaseException):
    """The executor hands the run over: stop here without ending it (no frontend stops, no ``EndRun``)."""


class WorkerSuperseded(BaseException):
    """A bench refused this worker: a newer generation of the run exists. Stop at once and touch nothing."""


class RunParked(BaseException):
    """The run cannot go on without a person: a call's outcome is unknown, a bench stopped answering, or the
    replay does not match the journal. Nothing more is sent to an instrument."""

    def __init__(self, step: int, kind: ParkKind, reason: str, choices: list[RecoveryChoice]) -> None:
        super().__init__(reason)
        self.step, self.kind, self.reason, self.choices = step, kind, reason, choices


class Control(Protocol):
    async def checkpoint(self, *, live: bool = True) -> None:
        """Return when the next machine call may proceed; raise if it must not. ``live=False`` for a call the
        journal answers (no instrument involved): a pause then waits for the first live call."""
        ...


class RunControl:
    """Cancel / pause / resume / suspend from the executor; ``on_pause``/``on_resume`` report when waiting
    actually starts and ends (the executor records ``paused`` only then)."""

    def __init__(
        self,
        *,
        on_pause: Callable[[], None] | None = None,
        on_resume: Callable[[], None] | None = None,
        paused: bool = False,
    ) -> None:
        self._running = asyncio.Event()
        if not paused:
            self._running.set()
        self._cancelled = False
        self._suspended = False
        self.reason = ""
        self._on_pause, self._on_resume = on_pause, on_resume
        self._on_credentials: Callable[[str], None] | None = None
        self._fresh_credentials: str | None = None

    def credentials(self, creds: str) -> None:
        """Fresh NATS credentials from the executor: handed to the transport (or kept until it exists)."""
        if self._on_credentials is not None:
            self._on_credentials(creds)
        else:
            self._fresh_credentials = creds

    def on_credentials(self, callback: Callable[[str], None]) -> None:
        self._on_credentials = callback
        if self._fresh_credentials is not None:
            callback(self._fresh_credentials)
            self._fresh_credentials = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        self._cancelled, self.reason = True, reason
        self._running.set()  # a paused run wakes up to be cancelled

    def suspend(self) -> None:
        self._suspended = True
        self._running.set()

    def pause(self) -> None:
        if not self._cancelled:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def _stop_if_asked(self) -> None:
        if self._cancelled:
            raise RunCancelled(self.reason)
        if self._suspended:
            raise RunSuspended()

    async def checkpoint(self, *, live: bool = True) -> None:
        # Yield once: control lines are delivered as loop callbacks, and a run whose calls never block (an
        # in-process bench, a replay) would otherwise not see them until it ends.
        await asyncio.sleep(0)
        self._stop_if_asked()
        if live and not self._running.is_set():
            if self._on_pause:
                self._on_pause()
            await self._running.wait()
            self._stop_if_asked()
            if self._on_resume:
                self._on_resume()
