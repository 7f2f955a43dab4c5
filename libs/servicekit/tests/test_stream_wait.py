"""A service that may only look streams up (a bench's agent) waits for them instead of failing its start."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import StreamConfig

from praxis_contracts.streams import StreamSpec
from praxis_servicekit.bus import ensure_streams, wait_for_streams

pytestmark = pytest.mark.integration


async def test_it_waits_until_another_service_creates_the_streams(nats_url: str, unique_id: str) -> None:
    spec = StreamSpec(name=f"WAIT_{unique_id}", subjects=(f"wait.{unique_id}.>",))
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stopping = asyncio.Event()
    waiting = asyncio.create_task(wait_for_streams(js, (spec,), stopping))
    try:
        with pytest.raises(TimeoutError):  # nobody created it: still waiting
            await asyncio.wait_for(asyncio.shield(waiting), timeout=0.5)
        await ensure_streams(js, (spec,))  # a central service starts
        await asyncio.wait_for(waiting, timeout=10)
        info = await js.stream_info(spec.name)
        assert isinstance(info.config, StreamConfig) and info.config.subjects == list(spec.subjects)
    finally:
        stopping.set()
        await asyncio.gather(waiting, return_exceptions=True)
        await js.delete_stream(spec.name)
        await nc.close()


async def test_it_gives_up_waiting_when_the_service_stops(nats_url: str, unique_id: str) -> None:
    nc = await nats.connect(nats_url)
    stopping = asyncio.Event()
    waiting = asyncio.create_task(
        wait_for_streams(
            nc.jetstream(), (StreamSpec(name=f"NEVER_{unique_id}", subjects=(f"never.{unique_id}.>",)),), stopping
        )
    )
    stopping.set()
    await asyncio.wait_for(waiting, timeout=10)
    await nc.close()
