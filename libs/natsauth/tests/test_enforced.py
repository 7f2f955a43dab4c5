"""A real nats-server with the generated authorization lets each identity do what its code does and refuses the
rest: another service's events, stream creation and deletion, another bench, JetStream for workers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client, RawCredentials
from nats.js.api import AckPolicy, ConsumerConfig

from praxis_contracts.hardware import MachineCall
from praxis_contracts.registry import encode, subject_of
from praxis_natsauth import mint_worker_credentials, worker_inbox_prefix
from praxis_servicekit.bus import ensure_streams, sync_with_server
from praxis_testkit.plugin import SecuredNats
from praxis_testkit.waiting import wait_for

Connect = Callable[..., Awaitable[Any]]
pytestmark = pytest.mark.integration

BENCH = "sim-bench-1"
CALL = f"praxis.bench.{BENCH}.cmd.machine_call.v1"


async def _watch(admin: Client, subject: str) -> nats.aio.subscription.Subscription:
    sub = await admin.subscribe(subject)
    await sync_with_server(admin)
    return sub


@pytest.fixture
async def streams(admin: Client) -> None:
    await ensure_streams(admin.jetstream())


def _worker_creds(secured_nats: SecuredNats, run_id: str, benches: list[str], expires_in_s: float = 300) -> str:
    return mint_worker_credentials(secured_nats.worker_signer.read_text(), run_id, benches, expires_in_s)


# ------------------------------------------------------------------------------------------- services


@pytest.mark.parametrize("service", ["discovery", "scheduler", "executor", "gateway"])
async def test_a_service_sets_up_the_praxis_streams_but_deletes_and_invents_none(
    service: str, secured_nats: SecuredNats, connect_as: Connect, unique_id: str
) -> None:
    peer = await connect_as(secured_nats.creds(service))
    await ensure_streams(peer.nc.jetstream(timeout=5))
    assert peer.refusals() == []

    for api in ("$JS.API.STREAM.DELETE.PRAXIS_EXECUTOR_EVT", f"$JS.API.STREAM.CREATE.ROGUE_{unique_id}"):
        await peer.nc.publish(api, b"{}")
        await peer.refused("publish", api)


@pytest.mark.parametrize(
    ("service", "own", "foreign"),
    [
        ("discovery", "praxis.discovery.evt.catalog_synced.v1", "praxis.scheduler.evt.run_queued.v1"),
        ("scheduler", "praxis.scheduler.evt.run_scheduled.v1", "praxis.executor.evt.run_finished.v1"),
        ("executor", "praxis.executor.evt.step_completed.v1", "praxis.hardware.evt.b1.bench_heartbeat.v1"),
        ("gateway", "praxis.scheduler.cmd.submit_run.v1", "praxis.executor.evt.step_completed.v1"),
    ],
)
async def test_a_service_publishes_its_own_messages_and_cannot_forge_anothers(
    service: str, own: str, foreign: str, secured_nats: SecuredNats, connect_as: Connect, admin: Client, streams: None
) -> None:
    peer = await connect_as(secured_nats.creds(service))
    ack = await peer.nc.jetstream().publish(own, b"{}")
    await admin.jetstream().delete_msg(ack.stream, ack.seq)  # stored; and gone before anyone consumes it

    await peer.nc.publish(foreign, b"{}")
    await peer.refused("publish", foreign)


async def test_the_executor_cannot_call_a_bench_itself(secured_nats: SecuredNats, connect_as: Connect) -> None:
    peer = await connect_as(secured_nats.creds("executor"))
    await peer.nc.publish(CALL, b"{}")
    await peer.refused("publish", CALL)


async def test_a_service_answers_its_queries_and_publishes_to_no_other_inbox(
    secured_nats: SecuredNats, connect_as: Connect, admin: Client
) -> None:
    discovery = await connect_as(secured_nats.creds("discovery"))

    async def answer(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b"answer")

    await discovery.nc.subscribe("praxis.discovery.qry.get_protocol.v1", queue="discovery", cb=answer)
    await sync_with_server(discovery.nc)
    reply = await admin.request("praxis.discovery.qry.get_protocol.v1", b"{}", timeout=5)
    assert reply.data == b"answer"

    await discovery.nc.publish("_INBOX_gateway.sneaky", b"forged answer")  # only replies to requests it got
    await discovery.refused("publish", "_INBOX_gateway.sneaky")


@pytest.mark.parametrize("identity", ["scheduler", "gateway", f"agent-{BENCH}"])
async def test_nobody_reads_the_shared_inbox_or_anothers(
    identity: str, secured_nats: SecuredNats, connect_as: Connect
) -> None:
    peer = await connect_as(secured_nats.creds(identity))
    for subject in ("_INBOX.>", "_INBOX_executor.>", "praxis.>"):
        await peer.nc.subscribe(subject)
        await peer.refused("subscription", subject)


async def test_a_service_consumes_the_messages_it_handles_and_no_other(
    secured_nats: SecuredNats, connect_as: Connect, admin: Client, streams: None, unique_id: str
) -> None:
    scheduler = await connect_as(secured_nats.creds("scheduler"))
    js, durable = scheduler.nc.jetstream(), f"scheduler-test-{unique_id}"
    config = ConsumerConfig(
        name=durable,
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        filter_subject="praxis.executor.evt.run_started.*",
    )
    await js.add_consumer("PRAXIS_EXECUTOR_EVT", config)
    ack = await admin.jetstream().publish("praxis.executor.evt.run_started.v1", b"{}")
    try:
        psub = await js.pull_subscribe_bind(durable=durable, stream="PRAXIS_EXECUTOR_EVT")
        msgs = await psub.fetch(1, timeout=5)
        await msgs[0].ack_sync()
        info = await admin.jetstream().consumer_info("PRAXIS_EXECUTOR_EVT", durable)
        assert info.num_ack_pending == 0
    finally:
        await admin.jetstream().delete_consumer("PRAXIS_EXECUTOR_EVT", durable)
        await admin.jetstream().delete_msg(ack.stream, ack.seq)

    steal = f"$JS.API.CONSUMER.CREATE.PRAXIS_EXECUTOR_CMD.x{unique_id}.praxis.executor.cmd.cancel_run.*"
    await scheduler.nc.publish(steal, b"{}")  # a consumer on the executor's work queue would take its commands
    await scheduler.refused("publish", steal)


# --------------------------------------------------------------------------------------- agents, workers


async def test_a_worker_calls_its_bench_whose_agent_answers(
    secured_nats: SecuredNats, connect_as: Connect, unique_id: str
) -> None:
    agent = await connect_as(secured_nats.creds(f"agent-{BENCH}"))

    async def perform(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b"performed")

    await agent.nc.subscribe(CALL, queue=f"hardware-agent-{BENCH}", cb=perform)
    await sync_with_server(agent.nc)
    run_id = f"run{unique_id}"
    worker = await connect_as(_worker_creds(secured_nats, run_id, [BENCH]), inbox=worker_inbox_prefix(run_id))
    call = MachineCall(bench_id=BENCH, machine="lh", method="aspirate", run_id=run_id, sequence=1, epoch=1)
    reply = await worker.nc.request(subject_of(call), encode(call), timeout=5)
    assert reply.data == b"performed"
    assert worker.refusals() == [] and agent.refusals() == []


async def test_an_agent_keeps_to_its_bench_and_the_hardware_events(
    secured_nats: SecuredNats, connect_as: Connect, admin: Client, streams: None
) -> None:
    agent = await connect_as(secured_nats.creds(f"agent-{BENCH}"))
    ack = await agent.nc.jetstream().publish(f"praxis.hardware.evt.{BENCH}.bench_heartbeat.v1", b"{}")
    await admin.jetstream().delete_msg(ack.stream, ack.seq)
    await agent.nc.jetstream(timeout=5).stream_info("PRAXIS_HARDWARE_EVT")  # start-up checks the streams

    other_bench = "praxis.bench.other-bench.cmd.machine_call.v1"
    await agent.nc.subscribe(other_bench)
    await agent.refused("subscription", other_bench)
    for subject in (
        "praxis.executor.evt.run_finished.v1",
        "$JS.API.STREAM.CREATE.PRAXIS_HARDWARE_EVT",
        CALL,
        "praxis.hardware.evt.other-bench.bench_heartbeat.v1",  # another bench's heartbeat, in its name
    ):
        await agent.nc.publish(subject, b"{}")
        await agent.refused("publish", subject)


async def test_a_worker_may_call_only_its_benches_and_use_no_jetstream(
    secured_nats: SecuredNats, connect_as: Connect, unique_id: str
) -> None:
    run_id = f"run{unique_id}"
    worker = await connect_as(_worker_creds(secured_nats, run_id, [BENCH]), inbox=worker_inbox_prefix(run_id))
    for subject in (
        "praxis.bench.other-bench.cmd.machine_call.v1",
        f"$JS.API.STREAM.CREATE.ROGUE_{unique_id}",
        "$JS.API.STREAM.DELETE.PRAXIS_EXECUTOR_EVT",
        "praxis.executor.evt.step_completed.v1",
        f"praxis.hardware.evt.{BENCH}.bench_heartbeat.v1",
    ):
        await worker.nc.publish(subject, b"{}")
        await worker.refused("publish", subject)
    for subject in ("_INBOX.>", "_INBOX_other.>", f"praxis.bench.{BENCH}.>"):
        await worker.nc.subscribe(subject)
        await worker.refused("subscription", subject)


async def test_a_worker_credential_stops_working_when_it_expires(
    secured_nats: SecuredNats, connect_as: Connect, unique_id: str
) -> None:
    run_id = f"run{unique_id}"
    creds = _worker_creds(secured_nats, run_id, [BENCH], expires_in_s=2)
    worker = await connect_as(creds, inbox=worker_inbox_prefix(run_id))
    assert worker.nc.is_connected

    await wait_for(lambda: worker.nc.is_closed, timeout=15, message="the server to disconnect the expired worker")
    assert "expired" in str(worker.nc.last_error).lower()  # the server said why
    await wait_for(lambda: time.time() >= _expiry(creds) + 1, timeout=5)  # the server counts whole seconds
    with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation|expired"):
        await nats.connect(secured_nats.url, user_credentials=RawCredentials(creds), allow_reconnect=False)


async def test_no_credentials_no_connection(secured_nats: SecuredNats) -> None:
    with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
        await nats.connect(secured_nats.url, allow_reconnect=False, connect_timeout=5)


def _expiry(creds: str) -> int:
    from praxis_natsauth import parse_creds

    expires = parse_creds(creds).expires_at
    assert expires is not None
    return expires
