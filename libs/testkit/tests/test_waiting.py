"""``wait_for``/``wait_for_sync``: return the first truthy value, or time out with a useful message."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from praxis_testkit.waiting import wait_for, wait_for_sync


async def test_wait_for_returns_first_truthy_value_of_sync_condition() -> None:
    counter = itertools.count()
    assert await wait_for(lambda: next(counter) >= 3 and "ready", interval=0.001) == "ready"


async def test_wait_for_accepts_async_condition_and_retries_on_exceptions() -> None:
    calls = itertools.count(1)

    async def condition() -> int:
        n = next(calls)
        assert n >= 3, "not yet"
        return n

    assert await wait_for(condition, interval=0.001) == 3


async def test_wait_for_times_out_with_message_and_last_value() -> None:
    with pytest.raises(TimeoutError, match=r"the answer.*last value: 0"):
        await wait_for(lambda: 0, timeout=0.05, interval=0.01, message="the answer")


async def test_wait_for_chains_last_exception() -> None:
    def boom() -> bool:
        raise KeyError("missing")

    with pytest.raises(TimeoutError, match="KeyError") as info:
        await wait_for(boom, timeout=0.05, interval=0.01)
    assert isinstance(info.value.__cause__, KeyError)


def test_wait_for_sync_returns_and_times_out() -> None:
    values: Iterator[object] = iter([None, [], {"ok": True}])
    assert wait_for_sync(lambda: next(values), interval=0.001) == {"ok": True}
    with pytest.raises(TimeoutError, match="flag"):
        wait_for_sync(lambda: False, timeout=0.03, interval=0.01, message="flag")
