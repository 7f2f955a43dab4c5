"""What a worker needs from other services before it starts: the protocol's exact source (discovery, by hash)
and the benches' descriptions (their agents). A service that is restarting is waited for, within ``patience_s``;
an answer that can never change (no such source) fails at once."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from nats.aio.client import Client

from praxis_contracts.base import Message, Reply
from praxis_contracts.discovery import GetProtocolSource, ProtocolSource
from praxis_contracts.hardware import BenchDescription, DescribeBench
from praxis_contracts.registry import subject_of
from praxis_servicekit.queries import QueryFailed, request

R = TypeVar("R", bound=Reply)


class InputsUnavailable(RuntimeError):
    """The run cannot start: an input does not exist, or its service did not answer within the patience."""


class JobInputs:
    def __init__(self, nc: Client, *, timeout_s: float, patience_s: float) -> None:
        self.nc, self.timeout_s, self.patience_s = nc, timeout_s, patience_s

    async def source(self, source_hash: str, run_id: str) -> ProtocolSource:
        return await self._ask(GetProtocolSource(source_hash=source_hash, correlation_id=run_id), ProtocolSource)

    async def bench(self, bench_id: str, run_id: str) -> BenchDescription:
        return await self._ask(DescribeBench(bench_id=bench_id, correlation_id=run_id), BenchDescription)

    async def _ask(self, query: Message, reply_type: type[R]) -> R:
        deadline = time.monotonic() + self.patience_s
        delay = 0.1
        while True:
            try:
                return await request(self.nc, query, reply_type, timeout=self.timeout_s, subject=subject_of(query))
            except QueryFailed as exc:
                if exc.reply.code != "unavailable" or time.monotonic() >= deadline:
                    raise InputsUnavailable(exc.reply.detail) from exc
            await asyncio.sleep(delay)  # the service is restarting: ask again shortly
            delay = min(delay * 2, 2.0)
