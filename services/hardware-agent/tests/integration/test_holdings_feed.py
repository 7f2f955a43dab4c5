"""The agent's holdings on a real nats-server: the scheduler's reservation list (answered here by a stand-in
scheduler on the same NATS) and the live events decide which run may act on which machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.subscription import Subscription

from praxis_contracts.base import Message, Reply, utcnow
from praxis_contracts.executor import RunFinished
from praxis_contracts.hardware import Ack, CallRefusal, LoadRunDeck, MachineCall, MachineCallResult
from praxis_contracts.registry import encode, subject_of
from praxis_contracts.runs import AssetAssignment, Assignment, RunStatus
from praxis_contracts.scheduler import (
    ListReservations,
    ReservationInfo,
    ReservationList,
    ReservationReleased,
    RunScheduled,
)
from praxis_hardware_agent.adapters.holdings_feed import HoldingsFeed
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_hardware_agent.entrypoints.bench_bus import BenchBus
from praxis_servicekit.bus import sync_with_server
from praxis_servicekit.queries import QueryRoute, request, serve_queries
from praxis_testkit.servers import NatsServer, free_port
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration

SIM_BENCH = Path(__file__).resolve().parents[4] / "deploy" / "benches" / "sim-bench.yaml"


class Scheduler:
    """Answers ``ListReservations`` with ``listed`` (what the scheduler's table holds now) and counts questions."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.listed: list[ReservationInfo] = []
        self.asked = 0
        self._subs: list[Subscription] = []

    async def start(self) -> Scheduler:
        async def answer(q: ListReservations) -> Reply:
            self.asked += 1
            return ReservationList(reservations=list(self.listed))

        self._subs = await serve_queries(self.nc, [QueryRoute(ListReservations, answer)], service="scheduler")
        await sync_with_server(self.nc)
        return self

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        await sync_with_server(self.nc)

    def reserve(self, run_id: str, asset_id: str) -> None:
        now = utcnow()
        self.listed.append(
            ReservationInfo(
                id=f"{run_id}:{asset_id}",
                asset_id=asset_id,
                owner_kind="run",
                owner=run_id,
                starts_at=now,
                ends_at=now + timedelta(minutes=5),
                created_at=now,
            )
        )


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


@pytest.fixture
def bench_id(unique_id: str) -> str:
    return f"held-{unique_id}"


@pytest.fixture
async def scheduler(nats_url: str) -> AsyncIterator[Scheduler]:
    client = await nats.connect(nats_url)
    yield await Scheduler(client).start()
    await client.drain()


Agent = Callable[[], Awaitable[tuple[BenchRuntime, HoldingsFeed]]]


@pytest.fixture
async def agent(nats_url: str, bench_id: str) -> AsyncIterator[Agent]:
    """Starts the agent as ``serve`` wires it: holdings feed, runtime, routes on its own NATS connection."""
    started: list[tuple[Client, BenchRuntime, HoldingsFeed]] = []

    async def start() -> tuple[BenchRuntime, HoldingsFeed]:
        client = await nats.connect(nats_url)
        feed = HoldingsFeed(client, bench_id, query_timeout_s=1.0)
        runtime = BenchRuntime.from_file(SIM_BENCH, bench_id=bench_id, holdings=feed)
        await runtime.setup()
        await feed.start()
        await serve_queries(client, BenchBus(runtime, client.jetstream(), bench_id, "test").routes(), service=bench_id)
        await sync_with_server(client)
        started.append((client, runtime, feed))
        return runtime, feed

    yield start
    for client, runtime, feed in started:
        await feed.stop()
        await runtime.stop()
        await client.drain()


async def publish(nc: Client, *events: Message) -> None:
    for event in events:
        await nc.publish(subject_of(event), encode(event))
    await sync_with_server(nc)


def scheduled(run_id: str, bench_id: str, machine: str) -> RunScheduled:
    asset = AssetAssignment(
        requirement=machine, kind="machine", bench_id=bench_id, machine=machine, asset_id=f"{bench_id}/{machine}"
    )
    return RunScheduled(
        run_id=run_id, protocol_id="p", source_hash="h", function="f", assignment=Assignment(assets=[asset])
    )


async def call_reader(nc: Client, bench_id: str, run_id: str, sequence: int = 1) -> MachineCallResult:
    call = MachineCall(bench_id=bench_id, run_id=run_id, sequence=sequence, machine="reader", method="open")
    return await request(nc, call, MachineCallResult, timeout=10)


async def load_deck(nc: Client, bench_id: str, run_id: str) -> Ack:
    return await request(nc, LoadRunDeck(bench_id=bench_id, run_id=run_id), Ack, timeout=10)


async def test_a_run_the_scheduler_lists_acts_and_a_made_up_one_is_refused_once_asked(
    nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent
) -> None:
    scheduler.reserve("run-1", f"{bench_id}/reader")
    scheduler.reserve("run-elsewhere", "other-bench/reader")
    runtime, _ = await agent()
    asked_at_start = scheduler.asked

    assert (await load_deck(nc, bench_id, "run-1")).ok
    performed = await call_reader(nc, bench_id, "run-1")
    forged = await call_reader(nc, bench_id, "made-up")
    forged_again = await call_reader(nc, bench_id, "made-up", sequence=2)
    elsewhere = await call_reader(nc, bench_id, "run-elsewhere")

    assert asked_at_start == 1 and performed.ok and not performed.replayed
    for refused in (forged, forged_again):
        assert refused.error_type == CallRefusal.NOT_HELD.value
        assert f"run made-up holds no reservation of {bench_id}/reader" in (refused.error or "")
    assert "the scheduler lists none for it on this bench" in (forged.error or "")
    assert elsewhere.error_type == CallRefusal.NOT_HELD.value
    assert scheduler.asked == asked_at_start + 2  # once for each unknown run, not for the repeat
    assert runtime.store.summary("made-up") == []


async def test_live_events_hold_and_release(nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent) -> None:
    _, feed = await agent()

    await publish(nc, scheduled("run-2", bench_id, "reader"))
    await wait_for(lambda: feed.holdings.holds("run-2", "reader"), message="RunScheduled reached the agent")
    assert (await load_deck(nc, bench_id, "run-2")).ok
    first = await call_reader(nc, bench_id, "run-2", 1)
    released = ReservationReleased(
        reservation_id="x", asset_id=f"{bench_id}/reader", run_id="run-2", reason="force-released by admin: jammed"
    )
    await publish(nc, released)
    await wait_for(lambda: not feed.holdings.holds("run-2", "reader"), message="the release reached the agent")
    replay = await call_reader(nc, bench_id, "run-2", 1)
    refused = await call_reader(nc, bench_id, "run-2", 2)

    assert first.ok and replay.replayed and replay.result == first.result
    assert refused.error_type == CallRefusal.NOT_HELD.value
    assert "it was released at" in (refused.error or "") and "jammed" in (refused.error or "")


async def test_a_finished_run_is_refused_even_if_an_older_snapshot_lists_it(
    nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent
) -> None:
    scheduler.reserve("run-3", f"{bench_id}/reader")
    _, feed = await agent()

    await publish(nc, RunFinished(run_id="run-3", seq=4, status=RunStatus.CANCELLED))
    await wait_for(lambda: not feed.holdings.holds("run-3", "reader"), message="RunFinished reached the agent")
    await feed.sync()  # the scheduler's table still lists it (its release is not committed yet)
    refused = await call_reader(nc, bench_id, "run-3")

    assert refused.error_type == CallRefusal.NOT_HELD.value and "(run cancelled)" in (refused.error or "")


async def test_a_run_placed_a_moment_ago_is_looked_up_before_refusing(
    nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent
) -> None:
    await agent()
    scheduler.reserve("run-4", f"{bench_id}/reader")  # placed; its RunScheduled has not reached the agent

    ack = await load_deck(nc, bench_id, "run-4")
    result = await call_reader(nc, bench_id, "run-4")

    assert ack.ok and result.ok


async def test_while_the_scheduler_is_down_known_runs_act_and_unknown_ones_are_refused(
    nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent
) -> None:
    scheduler.reserve("run-5", f"{bench_id}/reader")
    _, feed = await agent()
    await scheduler.stop()

    assert (await load_deck(nc, bench_id, "run-5")).ok
    known = await call_reader(nc, bench_id, "run-5")
    unknown = await call_reader(nc, bench_id, "run-6")
    next_unknown = await call_reader(nc, bench_id, "run-7")

    assert known.ok
    for refused, run_id in ((unknown, "run-6"), (next_unknown, "run-7")):
        assert refused.error_type == CallRefusal.NOT_HELD.value
        assert f"run {run_id} is unknown to this agent and the scheduler could not be asked" in (refused.error or "")
    assert "holdings_sync_error" in feed.status()


async def test_a_scheduler_that_comes_up_after_the_agent_is_asked_at_once(
    nats_url: str, nc: Client, bench_id: str, agent: Agent
) -> None:
    """Nobody answered the agent's first question (it started first): that failure was instant, so a call of a
    run it does not know asks again rather than being refused until the next periodic check."""
    _, feed = await agent()
    assert "holdings_sync_error" in feed.status()
    client = await nats.connect(nats_url)
    try:
        late = await Scheduler(client).start()
        late.reserve("run-8", f"{bench_id}/reader")

        assert (await load_deck(nc, bench_id, "run-8")).ok
        assert (await call_reader(nc, bench_id, "run-8")).ok
        assert "holdings_sync_error" not in feed.status()
    finally:
        await client.drain()


async def test_a_scheduler_that_does_not_answer_in_time_is_not_waited_for_on_every_call(
    nc: Client, bench_id: str, agent: Agent
) -> None:
    """A question that timed out would hold up every call queued behind it for as long again: while the latest
    snapshot timed out, unknown runs are refused at once and only the periodic check asks again."""
    questions: list[object] = []

    async def swallow(msg: object) -> None:
        questions.append(msg)

    mute = await nc.subscribe(subject_of(ListReservations), cb=swallow)
    await sync_with_server(nc)
    try:
        _, feed = await agent()
        asked = len(questions)
        refused = [await call_reader(nc, bench_id, run_id) for run_id in ("run-9", "run-10")]
    finally:
        await mute.unsubscribe()

    assert asked == 1 and len(questions) == 1
    for reply in refused:
        assert reply.error_type == CallRefusal.NOT_HELD.value
        assert "could not be asked" in (reply.error or "") and "holdings_sync_error" in feed.status()


async def test_after_a_reconnect_the_holdings_are_read_again(bench_id: str, tmp_path: Path) -> None:
    """A release published while the agent was cut off from NATS is lost to it; the snapshot after the
    reconnect says so."""
    port = free_port()
    server = NatsServer(port=port, store_dir=tmp_path / "nats").start()
    url = server.url
    options = {"max_reconnect_attempts": -1, "reconnect_time_wait": 0.1}
    agent_nc = await nats.connect(url, **options)
    scheduler = await Scheduler(await nats.connect(url, **options)).start()
    try:
        scheduler.reserve("run-7", f"{bench_id}/reader")
        feed = HoldingsFeed(agent_nc, bench_id, query_timeout_s=1.0)
        await feed.start()
        assert feed.holdings.holds("run-7", "reader")

        server.stop()
        scheduler.listed.clear()  # released while the agent could not hear it
        server = NatsServer(port=port, store_dir=tmp_path / "nats").start()

        async def reread() -> bool:
            await feed.maintain()
            return not feed.holdings.holds("run-7", "reader")

        await wait_for(reread, timeout=20, interval=0.1, message="the agent re-read the holdings after reconnecting")
        assert "no longer among the scheduler's reservations" in feed.holdings.verdict("run-7", ["reader"]).reason
        await feed.stop()
    finally:
        for client in (agent_nc, scheduler.nc):
            await client.close()
        server.stop()


async def test_concurrent_requests_of_an_unknown_run_share_the_question(
    nc: Client, bench_id: str, scheduler: Scheduler, agent: Agent
) -> None:
    await agent()
    asked = scheduler.asked

    results = await asyncio.gather(*(call_reader(nc, bench_id, "ghost", sequence=n) for n in range(1, 9)))

    assert all(r.error_type == CallRefusal.NOT_HELD.value for r in results)
    # one snapshot in flight serves every request that arrived before it started; at most one more follows
    assert 1 <= scheduler.asked - asked <= 2
