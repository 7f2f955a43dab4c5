"""Idempotency that survives an agent restart: first results kept in a NATS KV bucket per bench.

The in-memory store forgets everything when the agent restarts, and a worker whose request timed out during
that restart would then have the device act twice. The KV bucket (file storage, TTL = the retry horizon) keeps
the first result of every key; an in-memory LRU in front keeps the common path (a retry seconds later) local.
"""

from __future__ import annotations

import re

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from praxis_contracts.hardware import MachineCallResult
from praxis_hardware_agent.domain.idempotency import InMemoryIdempotencyStore


def bucket_name(bench_id: str) -> str:
    return "PRAXIS_AGENT_" + re.sub(r"[^A-Za-z0-9_-]", "_", bench_id)


def kv_key(idempotency_key: str) -> str:
    """KV keys allow ``[-/_=.A-Za-z0-9]``: run ids are hex, the ``run:seq`` separator becomes a dot."""
    return re.sub(r"[^-/_=.A-Za-z0-9]", "_", idempotency_key.replace(":", "."))


class KvIdempotencyStore:
    def __init__(self, kv: KeyValue, memory: InMemoryIdempotencyStore | None = None) -> None:
        self.kv = kv
        self.memory = memory or InMemoryIdempotencyStore()

    @classmethod
    async def open(cls, js: JetStreamContext, bench_id: str, ttl_s: float) -> KvIdempotencyStore:
        kv = await js.create_key_value(
            KeyValueConfig(bucket=bucket_name(bench_id), ttl=ttl_s, storage=StorageType.FILE, history=1)
        )
        return cls(kv, InMemoryIdempotencyStore(ttl_s=ttl_s))

    async def get(self, key: str) -> MachineCallResult | None:
        found = await self.memory.get(key)
        if found is not None:
            return found
        try:
            entry = await self.kv.get(kv_key(key))
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        result = MachineCallResult.model_validate_json(entry.value)
        await self.memory.put(key, result)
        return result

    async def put(self, key: str, result: MachineCallResult) -> None:
        await self.memory.put(key, result)
        try:
            await self.kv.create(kv_key(key), result.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            pass  # first result wins, as in memory
