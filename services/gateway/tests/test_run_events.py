"""``WS /api/v1/runs/{id}/events``: backlog then live, in seq order, no gaps, no duplicates, close after finish;
frames forged on the bus are never shown and never close a client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import websockets
from nats.aio.client import Client
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedError

from praxis_contracts.executor import GetRunEvents, RunFinished
from praxis_contracts.registry import subject_of
from praxis_contracts.runs import RunStatus
from praxis_servicekit.bus import sync_with_server
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


async def connect(address: str, run_id: str, after: int | None = None) -> ClientConnection:
    query = "" if after is None else f"?after={after}"
    return await websockets.connect(f"ws://{address}/api/v1/runs/{run_id}/events{query}", open_timeout=TIMEOUT)


async def receive(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(TIMEOUT):
        return [json.loads(await ws.recv()) for _ in range(count)]


async def receive_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every frame until the server closes (whatever the close code; tests check ``ws.close_code``)."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosedError):
            async for frame in ws:
                frames.append(json.loads(frame))
    return frames


def seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["seq"] for f in frames]


class TestRunEventStream:
    async def test_replays_the_backlog_then_live_events_and_closes_after_run_finished(
        self, live_gateway: Any, fake_executor: Any
    ) -> None:
        address = await live_gateway(event_page_size=2)
        executor = await fake_executor()
        executor.store(*(executor.step(seq) for seq in (1, 2, 3)))
        ws = await connect(address, executor.run_id)

        backlog = await receive(ws, 3)
        executor.store(executor.step(4), executor.step(5))
        await executor.publish(executor.step(4), typed=False)  # the type then comes from the subject
        await executor.publish(executor.step(3), executor.step(5))  # 3 again: already sent
        await executor.emit(executor.finished(6))
        live = await receive_until_closed(ws)

        assert seqs(backlog) == [1, 2, 3]
        assert seqs(live) == [4, 5, 6]
        assert [f["type"] for f in backlog + live] == ["StepCompleted"] * 5 + ["RunFinished"]
        assert backlog[0]["event"]["method"] == "aspirate"
        assert live[-1]["event"]["status"] == "completed"
        assert ws.close_code == 1000
        assert len(executor.fakes.queries(GetRunEvents)) >= 2  # paged two at a time

    async def test_after_resumes_without_gaps_or_duplicates(self, live_gateway: Any, fake_executor: Any) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        await executor.emit(*(executor.step(seq) for seq in (1, 2, 3)))
        first = await connect(address, executor.run_id)
        seen = await receive(first, 3)
        await first.close()
        await executor.emit(executor.step(4), executor.step(5))  # while the client is away

        second = await connect(address, executor.run_id, after=seen[-1]["seq"])
        resumed = await receive(second, 2)
        await executor.publish(executor.step(5))  # a late duplicate on the wire
        await executor.emit(executor.step(6), executor.finished(7))
        rest = await receive_until_closed(second)

        assert seqs(seen) == [1, 2, 3]
        assert seqs(resumed + rest) == [4, 5, 6, 7]
        assert second.close_code == 1000

    @pytest.mark.parametrize("page_includes_it", [False, True])
    async def test_an_event_published_while_the_backlog_is_paged_is_sent_once(
        self, live_gateway: Any, fake_executor: Any, page_includes_it: bool
    ) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        executor.store(*(executor.step(seq) for seq in (1, 2, 3)))

        async def step_four_happens(query: GetRunEvents) -> None:
            if query.after == 0:
                await executor.emit(executor.step(4))

        executor.on_page = step_four_happens
        if page_includes_it:  # the snapshot is taken before on_page runs; make it include step 4 too
            executor.store(executor.step(4))
            executor.on_page = lambda q: executor.publish(executor.step(4)) if q.after == 0 else asyncio.sleep(0)
        ws = await connect(address, executor.run_id)
        first = await receive(ws, 4)
        await executor.emit(executor.finished(5))
        rest = await receive_until_closed(ws)

        assert seqs(first + rest) == [1, 2, 3, 4, 5]

    async def test_a_gap_in_live_events_is_filled_from_the_backlog(self, live_gateway: Any, fake_executor: Any) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        await executor.emit(executor.step(1), executor.step(2))
        ws = await connect(address, executor.run_id)
        first = await receive(ws, 2)

        executor.store(executor.step(3), executor.step(4))
        await executor.publish(executor.step(4))  # step 3 never reaches the gateway live
        await executor.emit(executor.finished(5))
        rest = await receive_until_closed(ws)

        assert seqs(first + rest) == [1, 2, 3, 4, 5]

    async def test_a_finished_run_is_replayed_and_closed(self, live_gateway: Any, fake_executor: Any) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        executor.status = RunStatus.COMPLETED
        executor.store(executor.step(1), executor.step(2), executor.finished(3))

        replay = await receive_until_closed(await connect(address, executor.run_id, after=1))
        nothing_left = await connect(address, executor.run_id, after=3)
        tail = await receive_until_closed(nothing_left)

        assert seqs(replay) == [2, 3]
        assert tail == []
        assert nothing_left.close_code == 1000

    async def test_an_unknown_run_closes_with_4404(self, live_gateway: Any, fake_executor: Any, fakes: Any) -> None:
        from praxis_contracts.scheduler import GetQueue, QueueReply

        address = await live_gateway(ws_unknown_run_grace_s=0.2)
        await fake_executor()
        await fakes.answer(GetQueue, QueueReply(entries=[]))

        ws = await connect(address, "no-such-run")
        frames = await receive_until_closed(ws)

        assert frames == []
        assert ws.close_code == 4404

    async def test_executor_down_closes_with_1011(self, live_gateway: Any) -> None:
        address = await live_gateway(query_timeout_s=0.3)

        ws = await connect(address, "any-run")
        frames = await receive_until_closed(ws)

        assert frames == []
        assert ws.close_code == 1011
        assert "get_run" in (ws.close_reason or "")


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("praxis_gateway_ws_frames_dropped_total", {"reason": reason}) or 0.0


@pytest.fixture
async def forger(nats_url: str) -> AsyncIterator[Client]:
    """Anyone on the bus: a client of its own that publishes on the executor's event subjects."""
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


async def forge(client: Client, subject: str, payload: dict[str, Any] | bytes, type_name: str | None = None) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await client.publish(subject, data, headers={"Praxis-Type": type_name} if type_name else None)
    await sync_with_server(client)


class TestForgedEvents:
    async def test_a_forged_final_event_is_neither_shown_nor_closes_the_socket(
        self, live_gateway: Any, fake_executor: Any, forger: Client
    ) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        await executor.emit(executor.step(1), executor.step(2))
        ws = await connect(address, executor.run_id)
        first = await receive(ws, 2)
        pages = len(executor.fakes.queries(GetRunEvents))

        fake_end = RunFinished(run_id=executor.run_id, seq=3, status=RunStatus.FAILED, error="forged")
        await forge(forger, subject_of(fake_end), fake_end.model_dump(mode="json"), "RunFinished")
        await wait_for(lambda: len(executor.fakes.queries(GetRunEvents)) > pages, message="the gateway asked the store")
        await executor.emit(executor.step(3), executor.step(4), executor.finished(5))
        rest = await receive_until_closed(ws)

        assert seqs(first + rest) == [1, 2, 3, 4, 5]
        assert [f["type"] for f in rest] == ["StepCompleted", "StepCompleted", "RunFinished"]
        assert rest[-1]["event"]["status"] == "completed" and rest[-1]["event"]["error"] is None
        assert ws.close_code == 1000

    async def test_inconsistent_frames_are_dropped_and_counted_and_the_real_ones_follow(
        self, live_gateway: Any, fake_executor: Any, forger: Client
    ) -> None:
        address = await live_gateway(ws_gap_timeout_s=0.5)
        executor = await fake_executor()
        await executor.emit(executor.step(1), executor.step(2))
        ws = await connect(address, executor.run_id)
        first = await receive(ws, 2)
        reasons = ("unconfirmed", "invalid", "type_mismatch", "unknown_subject")
        before = {reason: dropped(reason) for reason in reasons}
        forged_step = executor.step(3).model_copy(update={"args": {"vols": [999.0]}})
        subject = subject_of(forged_step)

        await forge(forger, subject, executor.step(100).model_dump(mode="json"), "StepCompleted")  # far ahead
        await forge(forger, subject, {"run_id": executor.run_id, "seq": 3})  # not a StepCompleted
        await forge(forger, subject, forged_step.model_dump(mode="json"), "RunFinished")  # says another type
        await forge(forger, "praxis.executor.evt.run_exploded.v1", {"run_id": executor.run_id, "seq": 3})
        await forge(forger, subject, b"not json")
        await wait_for(
            lambda: all(dropped(r) >= before[r] + (2 if r == "invalid" else 1) for r in reasons),
            message="every forged frame was dropped and counted",
        )
        await executor.emit(executor.step(3), executor.finished(4))
        rest = await receive_until_closed(ws)

        assert seqs(first + rest) == [1, 2, 3, 4]
        assert rest[0]["event"]["args"] == {"vols": [3.0]}  # the executor's step 3, not the forged one
        assert ws.close_code == 1000

    async def test_a_final_event_the_store_confirms_closes_the_socket(
        self, live_gateway: Any, fake_executor: Any
    ) -> None:
        address = await live_gateway()
        executor = await fake_executor()
        await executor.emit(executor.step(1))
        ws = await connect(address, executor.run_id)
        first = await receive(ws, 1)
        pages = len(executor.fakes.queries(GetRunEvents))

        await executor.emit(executor.finished(2))
        rest = await receive_until_closed(ws)

        assert seqs(first + rest) == [1, 2] and ws.close_code == 1000
        assert len(executor.fakes.queries(GetRunEvents)) > pages  # the store was asked before closing
