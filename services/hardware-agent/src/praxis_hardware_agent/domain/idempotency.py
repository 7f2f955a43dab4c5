"""Idempotency of machine calls: one result per ``MachineCall.idempotency_key`` (run id + sequence).

The worker retries a timed-out request with the same sequence, and a request may be delivered twice; either way
the device must act once. The store keeps the first result, failures included (a repeated key must not retry a
failed aspirate either). Stores are async because one may be backed by NATS KV.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from praxis_contracts.hardware import MachineCallResult


class IdempotencyStore(Protocol):
    async def get(self, key: str) -> MachineCallResult | None:
        """The stored result of ``key``, or None if the call was never completed (or was forgotten)."""
        ...

    async def put(self, key: str, result: MachineCallResult) -> None:
        """Remember the first result of ``key``; a second put of the same key changes nothing."""
        ...


class InMemoryIdempotencyStore:
    """A bounded LRU with an optional time to live.

    Retries arrive within seconds of the first attempt, so a few thousand keys cover every run in flight. A key
    that fell out (capacity or ``ttl_s``) is performed again: the capacity must exceed the calls of all
    concurrent runs within a retry window, and the TTL must exceed the worker's total retry time.
    """

    def __init__(
        self, capacity: int = 10_000, *, ttl_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity, self.ttl_s, self._clock = capacity, ttl_s, clock
        self._results: OrderedDict[str, tuple[float, MachineCallResult]] = OrderedDict()

    async def get(self, key: str) -> MachineCallResult | None:
        entry = self._results.get(key)
        if entry is None:
            return None
        stored_at, result = entry
        if self.ttl_s is not None and self._clock() - stored_at > self.ttl_s:
            del self._results[key]
            return None
        self._results.move_to_end(key)
        return result

    async def put(self, key: str, result: MachineCallResult) -> None:
        if await self.get(key) is not None:
            return  # first result wins
        self._results[key] = (self._clock(), result)
        while len(self._results) > self.capacity:
            self._results.popitem(last=False)

    def __len__(self) -> int:
        return len(self._results)
