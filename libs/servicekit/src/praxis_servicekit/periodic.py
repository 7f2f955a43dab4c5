"""Run a coroutine function every ``interval_s`` until cancelled; a failing run is logged, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


def every(interval_s: float, fn: Callable[[], Awaitable[Any]]) -> Callable[[], Coroutine[Any, Any, None]]:
    async def loop() -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic task %s failed", getattr(fn, "__name__", fn))
            await asyncio.sleep(interval_s)

    loop.__name__ = f"every_{interval_s}s_{getattr(fn, '__name__', 'task')}"
    return loop
