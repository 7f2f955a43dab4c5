"""Polling with a deadline: the one sanctioned way for a test to wait for something.

A fixed ``sleep(0.5)`` is either too short on a loaded CI box (flaky) or too long everywhere else
(slow). ``wait_for`` polls a condition with a short interval and returns as soon as it holds, and
when it never does, the ``TimeoutError`` says what was awaited and what was last seen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

__all__ = ["wait_for", "wait_for_sync"]

T = TypeVar("T")

_NOTHING = object()


def _timeout_error(message: str, timeout: float, last_value: object, last_exc: BaseException | None) -> TimeoutError:
    what = message or "condition"
    detail = f"last exception: {last_exc!r}" if last_exc is not None else f"last value: {last_value!r}"
    return TimeoutError(f"timed out after {timeout:g}s waiting for {what} ({detail})")


@overload
async def wait_for(
    condition: Callable[[], Awaitable[T]], timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


@overload
async def wait_for(
    condition: Callable[[], T], timeout: float = ..., interval: float = ..., message: str = ...
) -> T: ...


async def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.02, message: str = ""
) -> object:
    """Call ``condition`` (sync or async) until it returns something truthy, and return that.

    An exception raised by ``condition`` counts as "not yet" (so ``assert`` inside it is fine);
    the last one is chained to the ``TimeoutError``. An async condition that itself hangs is cut off
    at the deadline. The condition is always evaluated at least once.
    """
    deadline = time.monotonic() + timeout
    last_value: object = _NOTHING
    last_exc: BaseException | None = None
    while True:
        try:
            result = condition()
            if inspect.isawaitable(result):
                remaining = max(deadline - time.monotonic(), interval)
                result = await asyncio.wait_for(result, remaining)
        except Exception as exc:  # any failure means "not yet"; reported on timeout
            last_exc, last_value = exc, _NOTHING
        else:
            if result:
                return result
            last_value, last_exc = result, None
        now = time.monotonic()
        if now >= deadline:
            raise _timeout_error(message, timeout, last_value, last_exc) from last_exc
        await asyncio.sleep(min(interval, deadline - now))


def wait_for_sync(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> T:
    """The blocking twin of :func:`wait_for`, for sync tests and fixtures (no event loop needed)."""
    deadline = time.monotonic() + timeout
    last_value: object = _NOTHING
    last_exc: BaseException | None = None
    while True:
        try:
            result = condition()
        except Exception as exc:  # any failure means "not yet"; reported on timeout
            last_exc, last_value = exc, _NOTHING
        else:
            if result:
                return result
            last_value, last_exc = result, None
        now = time.monotonic()
        if now >= deadline:
            raise _timeout_error(message, timeout, last_value, last_exc) from last_exc
        time.sleep(min(interval, deadline - now))
