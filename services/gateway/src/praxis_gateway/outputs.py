"""A run's outputs for ``GET /runs/{id}/outputs``: asked of the executor in slices, streamed on as they come.

Outputs can be tens of megabytes of JSON, far over a NATS message, so the executor hands them out as
``RunOutputsChunk`` slices of JSON text. The gateway asks for the first slice *before* it answers (an unknown
run must still be a 404, which is impossible once a 200 has started), then streams slice after slice without
ever holding the whole document.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from praxis_contracts.executor import GetRunOutputs, RunOutputsChunk
from praxis_gateway.bus import Bus

log = logging.getLogger(__name__)

REPLY_OVERHEAD_BYTES = 4096
"""Room for the reply's envelope and field names next to ``data``."""
BYTES_PER_CHAR = 4
"""The most one character of ``data`` can take in the reply: a 4-byte UTF-8 character, or an escaped quote or
backslash (2 bytes). JSON text holds no raw control characters, so nothing escapes to ``\\u00XX``."""


class OutputsBroken(RuntimeError):
    """The executor's slices do not add up (wrong offset, or no progress): the stream must not go on silently."""


def slice_limit(max_payload: int, configured: int) -> int:
    """Characters per slice: the configured size, but never so many that a reply could exceed ``max_payload``."""
    return max(1, min(configured, (max_payload - REPLY_OVERHEAD_BYTES) // BYTES_PER_CHAR))


async def first_slice(bus: Bus, run_id: str, limit: int) -> RunOutputsChunk:
    """The first slice; raises ``QueryFailed`` (``not_found`` is the 404) before any byte is sent."""
    return await bus.ask(GetRunOutputs(run_id=run_id, offset=0, limit=limit, correlation_id=run_id), RunOutputsChunk)


async def stream(bus: Bus, first: RunOutputsChunk, limit: int) -> AsyncIterator[bytes]:
    """``first`` and every later slice, as UTF-8. A failure mid-way aborts the response (the client sees a
    truncated body, not a complete-looking wrong one)."""
    chunk = first
    offset = 0
    while True:
        if chunk.offset != offset:
            raise OutputsBroken(f"run {first.run_id}: asked for outputs at {offset}, got a slice at {chunk.offset}")
        yield chunk.data.encode()
        offset += len(chunk.data)
        if offset >= chunk.total:
            return
        if not chunk.data:
            raise OutputsBroken(f"run {first.run_id}: empty outputs slice at {offset} of {chunk.total}")
        query = GetRunOutputs(run_id=first.run_id, offset=offset, limit=limit, correlation_id=first.run_id)
        try:
            chunk = await bus.ask(query, RunOutputsChunk)
        except Exception:
            log.exception("outputs of run %s broke off at %d of %d characters", first.run_id, offset, chunk.total)
            raise
