"""Idempotency that survives an agent restart: first results kept in a NATS KV bucket per bench.

The in-memory store forgets everything when the agent restarts, and a worker whose request timed out during
that restart would then have the device act twice. The KV bucket (file storage, TTL = the retry horizon) keeps
the first result of every key; an in-memory LRU in front keeps the common path (a retry seconds later) local.

Two choices keep the bucket off the hot path of every machine call (each KV operation is a JetStream round trip):
the bucket is only asked about a run this process has not seen yet (one agent serves a bench, so for a run it
has seen, a key missing from memory is a new call), and the write happens right after the reply instead of
before it. The price is a window of a few milliseconds after a call in which an agent crash loses its result.
"""

from __future__ import annotations

import asyncio
import logging
import re

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from praxis_contracts.hardware import MachineCallResult
from praxis_hardware_agent.domain.idempotency import InMemoryIdempotencyStore

log = logging.getLogger(__name__)


def bucket_name(bench_id: str) -> str:
    return "PRAXIS_AGENT_" + re.sub(r"[^A-Za-z0-9_-]", "_", bench_id)


def kv_key(idempotency_key: str) -> str:
    """KV keys allow ``[-/_=.A-Za-z0-9]``: run ids are hex, the ``run:seq`` separator becomes a dot."""
    return re.sub(r"[^-/_=.A-Za-z0-9]", "_", idempotency_key.replace(":", "."))


class KvIdempotencyStore:
    def __init__(self, kv: KeyValue, memory: InMemoryIdempotencyStore | None = None) -> None:
        self.kv = kv
        self.memory = memory or InMemoryIdempotencyStore()
        self._runs_seen: set[str] = set()
        self._writes: set[asyncio.Task[None]] = set()

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
        run_id = key.rpartition(":")[0]
        if run_id in self._runs_seen:
            return None
        self._runs_seen.add(run_id)
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
        self._runs_seen.add(key.rpartition(":")[0])
        task = asyncio.get_running_loop().create_task(self._write(key, result))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for pending bucket writes (at shutdown, and in tests)."""
        if self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def _write(self, key: str, result: MachineCallResult) -> None:
        try:
            await self.kv.create(kv_key(key), result.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            pass  # first result wins, as in memory
        except Exception:
            log.exception("could not persist the result of %s; a retry after an agent restart would repeat it", key)
