"""Run control as the worker sees it: a checkpoint before every machine call.

Cancel takes effect before the next machine call, never in the middle of one: the device is left between two
complete operations. ``RunCancelled`` derives from ``BaseException`` so that a protocol's ``except Exception``
(or PLR's own error handling around backend calls) cannot swallow it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class RunCancelled(BaseException):
    """The run was cancelled; raised at the next checkpoint."""


class Control(Protocol):
    async def checkpoint(self) -> None:
        """Return when the next machine call may proceed; raise RunCancelled if it must not."""
        ...


class RunControl:
    """Cancel / pause / resume from the executor; ``on_pause``/``on_resume`` report when waiting starts and ends."""

    def __init__(
        self,
        *,
        on_pause: Callable[[], None] | None = None,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False
        self.reason = ""
        self._on_pause, self._on_resume = on_pause, on_resume

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        self._cancelled, self.reason = True, reason
        self._running.set()  # a paused run wakes up to be cancelled

    def pause(self) -> None:
        if not self._cancelled:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def checkpoint(self) -> None:
        # Yield once: control lines are delivered as loop callbacks, and a run whose calls never block (an
        # in-process bench) would otherwise not see them until it ends.
        await asyncio.sleep(0)
        if self._cancelled:
            raise RunCancelled(self.reason)
        if not self._running.is_set():
            if self._on_pause:
                self._on_pause()
            await self._running.wait()
            if self._on_resume and not self._cancelled:
                self._on_resume()
        if self._cancelled:
            raise RunCancelled(self.reason)
