"""The agent's idempotency store on real NATS KV: first result wins, and it survives an agent restart."""

from __future__ import annotations

import nats
import pytest

from praxis_contracts.hardware import MachineCallResult
from praxis_hardware_agent.adapters.kv_idempotency import KvIdempotencyStore

pytestmark = pytest.mark.integration


async def test_a_restarted_agent_still_knows_the_first_result(nats_url: str, unique_id: str) -> None:
    bench = f"kv-bench-{unique_id}"
    key = f"run{unique_id}:7"
    first = MachineCallResult(ok=True, result={"volume": 12.5}, duration_ms=3.0)
    nc = await nats.connect(nats_url)
    try:
        store = await KvIdempotencyStore.open(nc.jetstream(), bench, ttl_s=3600)
        assert await store.get(key) is None
        await store.put(key, first)
        await store.put(key, MachineCallResult(ok=False, error="late duplicate"))  # must not replace the first
        assert await store.get(key) == first
        await store.flush()

        restarted = await KvIdempotencyStore.open(nc.jetstream(), bench, ttl_s=3600)  # empty memory, same bucket
        assert await restarted.get(key) == first
    finally:
        await nc.close()
