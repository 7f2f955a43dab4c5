"""Gateway test fixtures: the app on the session's real NATS (and Postgres), and fake *services* answering
queries on that NATS the way discovery, scheduler and executor would (never a fake of NATS itself)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from praxis_contracts.base import ErrorReply, Message, Reply, utcnow
from praxis_contracts.executor import (
    GetRun,
    GetRunEvents,
    GetRunOutputs,
    RunDetail,
    RunEvent,
    RunEventEnvelope,
    RunEventPage,
    RunFinished,
    RunOutputsChunk,
    StepCompleted,
)
from praxis_contracts.protocols import AssetRequirement, ParameterSpec, ProtocolDefinition
from praxis_contracts.registry import decode, encode, subject_of
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import GetQueue, QueueEntry, QueueReply
from praxis_gateway.app import create_app
from praxis_gateway.config import Settings
from praxis_gateway.db import MIGRATIONS
from praxis_gateway.db.tables import SCHEMA
from praxis_servicekit.bus import ensure_streams, sync_with_server
from praxis_servicekit.migrations import upgrade_to_head
from praxis_servicekit.queries import ERROR_HEADER
from praxis_testkit.databases import run_sync
from praxis_testkit.waiting import wait_for

Answer = Reply | Callable[[Any], Reply | Awaitable[Reply]]


class FakeServices:
    """Responders on the real NATS, one per query subject, recording every query they receive."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.received: dict[str, list[Any]] = defaultdict(list)
        self._subs: dict[str, Any] = {}

    async def answer(self, query_type: type[Message], answer: Answer, *, subject: str | None = None) -> None:
        target = subject or subject_of(query_type)
        await self.silence(target)

        async def respond(msg: Msg) -> None:
            query = query_type.model_validate_json(msg.data)
            self.received[target].append(query)
            reply = answer(query) if callable(answer) else answer
            if inspect.isawaitable(reply):
                reply = await reply
            header = "1" if isinstance(reply, ErrorReply) else "0"
            await self.nc.publish(msg.reply, reply.model_dump_json().encode(), headers={ERROR_HEADER: header})

        self._subs[target] = await self.nc.subscribe(target, cb=respond)
        await sync_with_server(self.nc)

    async def silence(self, subject: str) -> None:
        sub = self._subs.pop(subject, None)
        if sub is not None:
            await sub.unsubscribe()
            await sync_with_server(self.nc)

    def queries(self, query_type: type[Message], subject: str | None = None) -> list[Any]:
        return self.received[subject or subject_of(query_type)]

    async def close(self) -> None:
        for subject in list(self._subs):
            await self.silence(subject)


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    conn = await nats.connect(nats_url)
    yield conn
    await conn.drain()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_streams(context)
    return context


@pytest.fixture
async def fakes(nc: Client) -> AsyncIterator[FakeServices]:
    services = FakeServices(nc)
    yield services
    await services.close()


def settings_for(nats_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"nats_url": nats_url, "database_url": None, "auth": "off", "log_json": False}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def make_client(
    nats_url: str, js: JetStreamContext
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """``await make_client(**settings)``: the app with its lifespan running, behind an httpx client."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> httpx.AsyncClient:
            app = create_app(settings_for(nats_url, **overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://gw"))

        yield make


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> httpx.AsyncClient:
    return await make_client()


@pytest.fixture
async def live_gateway(nats_url: str, js: JetStreamContext) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``await live_gateway(**settings)`` -> ``host:port`` of the app served by uvicorn in this event loop
    (WebSocket tests need a real server: the fake services answer in this same loop)."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        app = create_app(settings_for(nats_url, **overrides))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        servers.append((server, task))
        await wait_for(lambda: server.started or task.done(), timeout=10, message="uvicorn started")
        assert server.started, task
        return f"127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


# -- contract builders ---------------------------------------------------------------------------------------


def make_definition(unique_id: str, **overrides: Any) -> ProtocolDefinition:
    values: dict[str, Any] = {
        "id": f"{unique_id}-serial_dilution",
        "name": f"serial_dilution_{unique_id}",
        "version": "1.0.0",
        "description": "2-fold dilution across a row",
        "function": "serial_dilution",
        "filename": "serial_dilution.py",
        "source_hash": "ab" * 32,
        "parameters": [
            ParameterSpec(
                name="volume_ul", type="float", default=100.0, required=False, minimum=1, maximum=200, unit="uL"
            ),
            ParameterSpec(name="columns", type="int", default=8, required=False, minimum=2, maximum=12),
        ],
        "assets": [
            AssetRequirement(
                name="lh",
                plr_type="pylabrobot.liquid_handling.liquid_handler.LiquidHandler",
                kind="machine",
                category="liquid_handling",
            ),
            AssetRequirement(name="plate", plr_type="pylabrobot.resources.plate.Plate", kind="resource"),
        ],
        "estimated_duration_s": 90.0,
    }
    values.update(overrides)
    return ProtocolDefinition(**values)


@pytest.fixture
def definition(unique_id: str) -> ProtocolDefinition:
    return make_definition(unique_id)


# -- reading what the gateway published ----------------------------------------------------------------------


class StreamReader:
    """Reads messages a test caused on a JetStream stream (sequence numbers after ``mark()``)."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def last_seq(self, stream: str) -> int:
        return int((await self.js.stream_info(stream)).state.last_seq)

    async def since(
        self, stream: str, after_seq: int, subject: str | None = None
    ) -> list[tuple[Message, dict[str, str]]]:
        found = []
        for seq in range(after_seq + 1, await self.last_seq(stream) + 1):
            try:
                raw = await self.js.get_msg(stream, seq)
            except NotFoundError:
                continue
            if raw.subject and (subject is None or raw.subject == subject):
                found.append((decode(raw.subject, raw.data or b""), dict(raw.headers or {})))
        return found


@pytest.fixture
def streams(js: JetStreamContext) -> StreamReader:
    return StreamReader(js)


# -- Postgres ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gateway_dsn(pg_dsn: str) -> Iterator[str]:
    """The session database with the gateway schema at head (migrated once, in a worker thread)."""

    async def migrate() -> None:
        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, pg_dsn, SCHEMA)

    run_sync(migrate)
    yield pg_dsn


# -- a fake executor: stored run events (GetRunEvents), run detail (GetRun), live events on core NATS ---------


class FakeExecutor:
    """Serves the run events it has stored and publishes live ones, as the executor does (store, then publish)."""

    def __init__(self, fakes: FakeServices, run_id: str) -> None:
        self.fakes = fakes
        self.run_id = run_id
        self.status = RunStatus.RUNNING
        self.stored: list[RunEvent] = []
        self.on_page: Callable[[GetRunEvents], Awaitable[None]] | None = None

    async def start(self) -> FakeExecutor:
        await self.fakes.answer(GetRun, self._detail)
        await self.fakes.answer(GetRunEvents, self._page)
        return self

    def step(self, seq: int) -> StepCompleted:
        return StepCompleted(
            run_id=self.run_id,
            seq=seq,
            step=seq,
            bench_id="bench-1",
            machine="lh",
            method="aspirate",
            args={"vols": [float(seq)]},
            duration_ms=1.0,
            correlation_id=self.run_id,
        )

    def finished(self, seq: int) -> RunFinished:
        return RunFinished(run_id=self.run_id, seq=seq, status=RunStatus.COMPLETED, correlation_id=self.run_id)

    def store(self, *events: RunEvent) -> None:
        self.stored.extend(events)

    async def publish(self, *events: RunEvent, typed: bool = True) -> None:
        for event in events:
            headers = {"Praxis-Type": type(event).__name__} if typed else None
            await self.fakes.nc.publish(subject_of(event), encode(event), headers=headers)
        await sync_with_server(self.fakes.nc)

    async def emit(self, *events: RunEvent) -> None:
        self.store(*events)
        await self.publish(*events)

    def _detail(self, query: GetRun) -> Reply:
        if query.run_id != self.run_id:
            return ErrorReply(code="not_found", detail=f"no run {query.run_id}")
        return RunDetail(id=self.run_id, protocol_id="p", status=self.status)

    async def _page(self, query: GetRunEvents) -> Reply:
        if query.run_id != self.run_id:
            return ErrorReply(code="not_found", detail=f"no run {query.run_id}")
        snapshot = sorted(self.stored, key=lambda e: e.seq)
        if self.on_page is not None:
            await self.on_page(query)
        events = [e for e in snapshot if e.seq > query.after][: query.limit]
        return RunEventPage(
            run_id=self.run_id,
            events=[
                RunEventEnvelope(seq=e.seq, type=type(e).__name__, event=e.model_dump(mode="json")) for e in events
            ],
            last_seq=max((e.seq for e in snapshot), default=0),
        )


@pytest.fixture
def fake_executor(fakes: FakeServices, unique_id: str) -> Callable[[], Awaitable[FakeExecutor]]:
    async def start() -> FakeExecutor:
        return await FakeExecutor(fakes, f"run-{unique_id}").start()

    return start


# -- a fake executor and scheduler queue for run lookups: GetRun (paged), GetRunOutputs (sliced), GetQueue -----


def journal_step(run_id: str, step: int) -> StepCompleted:
    return StepCompleted(
        run_id=run_id, seq=step + 1, step=step, bench_id="bench-1", machine="lh", method="aspirate", duration_ms=1.0
    )


class FakeRuns:
    """Runs the executor knows (``details``, each with its whole journal and outputs) and runs only the scheduler's
    queue holds (``queued``); answers the way the executor pages steps and slices outputs."""

    def __init__(self, fakes: FakeServices) -> None:
        self.fakes = fakes
        self.details: dict[str, RunDetail] = {}
        self.outputs: dict[str, str] = {}
        self.queued: list[QueueEntry] = []
        self.broken_slices = False

    async def start(self) -> FakeRuns:
        await self.fakes.answer(GetRun, self._detail)
        await self.fakes.answer(GetRunOutputs, self._outputs)
        await self.fakes.answer(GetQueue, lambda _: QueueReply(entries=self.queued))
        return self

    def add(self, run_id: str, status: RunStatus, *, steps: int = 0, **fields: Any) -> RunDetail:
        journal = [journal_step(run_id, n) for n in range(1, steps + 1)]
        detail = RunDetail(id=run_id, protocol_id="p", status=status, steps=journal, **fields)
        self.details[run_id] = detail
        return detail

    def queue(self, run_id: str) -> None:
        self.queued.append(
            QueueEntry(
                run_id=run_id,
                protocol_name="serial_dilution",
                priority=0,
                position=1,
                status="waiting",
                submitted_at=utcnow(),
            )
        )

    def _detail(self, query: GetRun) -> Reply:
        detail = self.details.get(query.run_id)
        if detail is None:
            return ErrorReply(code="not_found", detail=f"no run {query.run_id}")
        page = [s for s in detail.steps if s.step > query.steps_after][: query.steps_limit]
        return detail.model_copy(update={"steps": page, "steps_total": len(detail.steps)})

    def _outputs(self, query: GetRunOutputs) -> Reply:
        text = self.outputs.get(query.run_id)
        if text is None:
            return ErrorReply(code="not_found", detail=f"no run {query.run_id}")
        data = "" if self.broken_slices and query.offset else text[query.offset : query.offset + query.limit]
        return RunOutputsChunk(run_id=query.run_id, offset=query.offset, data=data, total=len(text))


@pytest.fixture
async def fake_runs(fakes: FakeServices) -> FakeRuns:
    return await FakeRuns(fakes).start()
