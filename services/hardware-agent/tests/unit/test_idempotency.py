"""The idempotency store: first result wins, bounded by capacity and time."""

from __future__ import annotations

from praxis_contracts.hardware import MachineCallResult
from praxis_hardware_agent.domain.idempotency import InMemoryIdempotencyStore


def result(value: object, ok: bool = True) -> MachineCallResult:
    return MachineCallResult(ok=ok, result=value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_first_result_wins() -> None:
    store = InMemoryIdempotencyStore()
    await store.put("run:1", result("first"))
    await store.put("run:1", result("second"))
    stored = await store.get("run:1")
    assert stored is not None and stored.result == "first"


async def test_failures_are_remembered_too() -> None:
    store = InMemoryIdempotencyStore()
    await store.put("run:2", result(None, ok=False))
    stored = await store.get("run:2")
    assert stored is not None and not stored.ok


async def test_unknown_keys() -> None:
    assert await InMemoryIdempotencyStore().get("run:9") is None


async def test_the_least_recently_used_key_falls_out() -> None:
    store = InMemoryIdempotencyStore(capacity=2)
    await store.put("a", result(1))
    await store.put("b", result(2))
    await store.get("a")  # a is now more recent than b
    await store.put("c", result(3))
    assert await store.get("b") is None
    assert await store.get("a") is not None and await store.get("c") is not None
    assert len(store) == 2


async def test_keys_expire_after_their_ttl() -> None:
    clock = FakeClock()
    store = InMemoryIdempotencyStore(ttl_s=60, clock=clock)
    await store.put("a", result(1))
    clock.now = 59
    assert await store.get("a") is not None
    clock.now = 61
    assert await store.get("a") is None
