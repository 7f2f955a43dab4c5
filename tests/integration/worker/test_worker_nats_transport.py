"""The worker's NATS transport against a real nats-server and a BenchRuntime answering on the bench subjects.

The responder here is a stand-in for the agent's NATS entrypoint (plain core-NATS request/reply on the subjects
of ``praxis_contracts.hardware``); it can lose a reply to show that a retry reuses the sequence and is answered
from the idempotency store instead of moving the device twice.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pylabrobot.liquid_handling.standard import Pickup
from pylabrobot.resources import Coordinate, TipSpot

from praxis_contracts.hardware import DescribeBench, EndRun, LoadRunDeck, MachineCall, MachineCallResult
from praxis_contracts.registry import subject_of
from praxis_contracts.runs import AssetAssignment, Assignment
from praxis_executor.worker.control import RunControl
from praxis_executor.worker.journal import MemoryJournal
from praxis_executor.worker.nats_transport import NatsBenchTransport
from praxis_executor.worker.proxy import BenchUnreachable
from praxis_executor.worker.runner import run_protocol
from praxis_hardware_agent.adapters.plr_runtime import BenchRuntime
from praxis_plrbridge.codec import encode_kwargs
from praxis_servicekit.bus import sync_with_server
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SIM_BENCH = ROOT / "deploy" / "benches" / "sim-bench.yaml"


@dataclass
class Responder:
    """Answers a bench's subjects from a BenchRuntime; ``lose_replies`` swallows the reply of those keys once."""

    runtime: BenchRuntime
    lose_replies: set[str] = field(default_factory=set)
    performed: list[str] = field(default_factory=list)
    nc: Any = None

    async def serve(self, nc: Client) -> None:
        self.nc = nc
        b = self.runtime.bench_id
        await nc.subscribe(subject_of(MachineCall, bench_id=b), cb=self.machine_call)
        await nc.subscribe(subject_of(LoadRunDeck, bench_id=b), cb=self.load_run_deck)
        await nc.subscribe(subject_of(EndRun, bench_id=b), cb=self.end_run)
        await nc.subscribe(subject_of(DescribeBench, bench_id=b), cb=self.describe)

    async def machine_call(self, msg: Msg) -> None:
        call = MachineCall.model_validate_json(msg.data)
        result = await self.runtime.perform(call)
        if not result.replayed:
            self.performed.append(call.idempotency_key)
        if call.idempotency_key in self.lose_replies:
            self.lose_replies.discard(call.idempotency_key)
            return  # the device acted, the answer never arrives
        await msg.respond(result.model_dump_json().encode())

    async def load_run_deck(self, msg: Msg) -> None:
        ack = await self.runtime.load_run_deck(LoadRunDeck.model_validate_json(msg.data))
        await msg.respond(ack.model_dump_json().encode())

    async def end_run(self, msg: Msg) -> None:
        cmd = EndRun.model_validate_json(msg.data)
        await self.runtime.end_run(cmd.run_id)
        await msg.respond(b'{"ok": true}')

    async def describe(self, msg: Msg) -> None:
        await msg.respond(self.runtime.describe().model_dump_json().encode())


@pytest.fixture
async def agent(nats_url: str, unique_id: str) -> AsyncIterator[Responder]:
    runtime = BenchRuntime.from_file(SIM_BENCH, bench_id=f"nats-bench-{unique_id}")
    await runtime.setup()
    nc = await nats.connect(nats_url)
    responder = Responder(runtime)
    await responder.serve(nc)
    yield responder
    if not nc.is_closed:
        await nc.drain()
    await runtime.stop()


@pytest.fixture
async def transport(nats_url: str) -> AsyncIterator[NatsBenchTransport]:
    t = await NatsBenchTransport.connect(nats_url, "test-worker", attempt_timeout_s=0.5, unreachable_timeout_s=30.0)
    yield t
    await t.close()


def pickup(runtime: BenchRuntime, sequence: int) -> MachineCall:
    spot = runtime.machines["lh"].deck.get_resource("tips_01_tipspot_A1")
    assert isinstance(spot, TipSpot)
    args: dict[str, Any] = encode_kwargs(
        {"ops": [Pickup(resource=spot, offset=Coordinate.zero(), tip=spot.get_tip())], "use_channels": [0]}
    )
    return MachineCall(
        bench_id=runtime.bench_id, run_id="run-n", sequence=sequence, machine="lh", method="pick_up_tips", args=args
    )


async def test_serial_dilution_over_nats(agent: Responder, transport: NatsBenchTransport) -> None:
    bench_id = agent.runtime.bench_id
    assets = [
        AssetAssignment(requirement="lh", kind="machine", bench_id=bench_id, machine="lh"),
        AssetAssignment(requirement="plate", kind="resource", bench_id=bench_id, machine="lh", resource="plate_01"),
        AssetAssignment(requirement="tips", kind="resource", bench_id=bench_id, machine="lh", resource="tips_02"),
        AssetAssignment(requirement="trough", kind="resource", bench_id=bench_id, machine="lh", resource="trough_01"),
    ]
    journal = MemoryJournal()
    outputs = await run_protocol(
        (ROOT / "examples" / "protocols" / "serial_dilution.py").read_text(),
        "serial_dilution",
        {"columns": 3},
        Assignment(assets=assets),
        {bench_id: await transport.describe(bench_id)},
        transport,
        RunControl(),
        journal,
        run_id="run-nats",
    )
    assert [e.sequence for e in journal.entries] == list(range(1, 13))
    assert all(e.ok for e in journal.entries)
    assert outputs["well_volumes"]["plate_01"]["A3"] == 200.0
    assert agent.runtime.run_ids() == []


async def test_a_lost_reply_is_retried_with_the_same_sequence_and_replayed(
    agent: Responder, transport: NatsBenchTransport
) -> None:
    await agent.runtime.load_run_deck(LoadRunDeck(bench_id=agent.runtime.bench_id, run_id="run-n"))
    call = pickup(agent.runtime, 5)
    agent.lose_replies.add(call.idempotency_key)
    result = await transport.call(call)
    assert result.ok and result.replayed
    assert agent.performed == [call.idempotency_key]  # the device moved once


async def test_a_bench_silent_for_longer_than_it_may_be_is_unreachable(nats_url: str, unique_id: str) -> None:
    t = await NatsBenchTransport.connect(nats_url, "test-worker", attempt_timeout_s=0.1, unreachable_timeout_s=0.3)
    try:
        runtime_less = MachineCall(bench_id=f"ghost-{unique_id}", run_id="r", sequence=1, machine="lh", method="x")
        with pytest.raises(BenchUnreachable, match=f"no answer from bench ghost-{unique_id}"):
            await t.call(runtime_less)
    finally:
        await t.close()


async def test_a_silent_bench_is_waited_for_and_asked_again_with_the_same_key(
    nats_url: str, agent: Responder, transport: NatsBenchTransport
) -> None:
    """The agent is restarting: requests go unanswered until it is back, then the same call is performed once."""
    bench_id = agent.runtime.bench_id
    await agent.nc.drain()  # the agent "dies"
    heard: list[int] = []
    silent = await nats.connect(nats_url)  # hears requests but never answers: every attempt times out
    await silent.subscribe(subject_of(MachineCall, bench_id=bench_id), cb=functools.partial(_note, heard))
    await sync_with_server(silent)
    await agent.runtime.load_run_deck(LoadRunDeck(bench_id=bench_id, run_id="run-n"))
    call = pickup(agent.runtime, 1)
    pending = asyncio.create_task(transport.call(call))
    await wait_for(lambda: len(heard) >= 2, timeout=10, message="the worker did not ask again")
    await silent.drain()
    back = await nats.connect(nats_url)  # the agent is back
    await agent.serve(back)
    result = await asyncio.wait_for(pending, timeout=10)
    await back.drain()
    assert result.ok
    assert agent.performed == [call.idempotency_key]


async def _note(heard: list[int], msg: Msg) -> None:
    heard.append(MachineCall.model_validate_json(msg.data).sequence)


async def test_a_worker_with_short_lived_credentials_keeps_working_across_a_renewal(
    secured_nats: Any, unique_id: str
) -> None:
    """The executor mints each worker its own credentials and renews them before they expire: a renewed worker
    is still heard after its first credentials have run out (the server closes connections that outlive them)."""
    from praxis_contracts.permissions import inbox_prefix
    from praxis_natsauth import mint_worker_credentials

    bench, run_id = f"creds-bench-{unique_id}", f"creds-run-{unique_id}"
    signer = secured_nats.worker_signer.read_text()
    responder = await nats.connect(secured_nats.url, user_credentials=str(secured_nats.admin_creds))
    served: list[int] = []

    async def answer(msg: Msg) -> None:
        call = MachineCall.model_validate_json(msg.data)
        served.append(call.sequence)
        await msg.respond(MachineCallResult(ok=True, result=call.sequence).model_dump_json().encode())

    await responder.subscribe(subject_of(MachineCall, bench_id=bench), cb=answer)
    await sync_with_server(responder)
    transport = await NatsBenchTransport.connect(
        secured_nats.url,
        "test-worker",
        creds=mint_worker_credentials(signer, run_id, [bench], 2),
        inbox_prefix=inbox_prefix(run_id),
        attempt_timeout_s=1,
        unreachable_timeout_s=5,
    )
    first = transport.nc
    try:
        call = MachineCall(bench_id=bench, run_id=run_id, sequence=1, machine="lh", method="m")
        assert (await transport.call(call)).result == 1
        await transport.rotate(mint_worker_credentials(signer, run_id, [bench], 60))
        await wait_for(lambda: first.is_closed, timeout=15, message="the first credentials never expired")
        assert (await transport.call(call.model_copy(update={"sequence": 2}))).result == 2
        assert served == [1, 2]
    finally:
        await transport.close()
        await responder.close()
