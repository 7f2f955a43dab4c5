"""The hardware agent acts only for runs that hold the machine: a machine call forged for a made-up run, or for
a real run on a machine the scheduler did not give it, is refused and not performed (as the agent's own record
shows), and the real run goes on to complete with every call performed exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from praxis_contracts.hardware import Ack, CallRefusal, LoadRunDeck, MachineCall, MachineCallResult
from praxis_contracts.registry import subject_of

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "protocols"
BENCH = "sim-bench-1"
FORGED_SEQUENCE = 1_000_000
CYCLES = 40
CALLS = 3 + 2 * CYCLES + 1  # long_mix: tips, aspirate, dispense, 2 per cycle, drop tips


def send(stack: Any, *messages: LoadRunDeck | MachineCall) -> list[Ack | MachineCallResult]:
    """Anyone allowed on the bench's subjects (the NATS permissions are another layer, tested apart):
    request/reply straight to the bench, as a worker would."""

    async def ask() -> list[Ack | MachineCallResult]:
        nc = await stack.nats()
        try:
            replies: list[Ack | MachineCallResult] = []
            for message in messages:
                reply_type = Ack if isinstance(message, LoadRunDeck) else MachineCallResult
                msg = await nc.request(subject_of(message), message.model_dump_json().encode(), timeout=15)
                replies.append(reply_type.model_validate_json(msg.data))
            return replies
        finally:
            await nc.close()

    return asyncio.run(ask())


def assert_not_held(reply: Ack | MachineCallResult, run_id: str, machine: str) -> None:
    text = reply.detail if isinstance(reply, Ack) else (reply.error or "")
    assert not reply.ok and reply.error_type == CallRefusal.NOT_HELD.value, reply
    assert f"run {run_id} holds no reservation of {BENCH}/{machine}" in text, text


def test_a_forged_call_for_a_made_up_run_is_refused_and_not_performed(
    stack: Any, unique_id: str, agent_record: Callable[[str], dict[str, Any]]
) -> None:
    run_id = f"made-up-{unique_id}"
    deck = LoadRunDeck(bench_id=BENCH, run_id=run_id)
    calls = [
        MachineCall(bench_id=BENCH, run_id=run_id, sequence=1, machine="reader", method="open"),
        MachineCall(bench_id=BENCH, run_id=run_id, sequence=2, machine="lh", method="request_tip_presence"),
    ]

    ack, *results = send(stack, deck, *calls)

    assert not ack.ok and ack.error_type == CallRefusal.NOT_HELD.value, ack
    assert_not_held(results[0], run_id, "reader")
    assert_not_held(results[1], run_id, "lh")
    assert agent_record(run_id) == {}, "the agent recorded a call of a run that holds nothing"


def test_a_real_run_may_not_use_a_machine_it_does_not_hold_and_still_completes(
    stack: Any, runs: Any, agent_record: Callable[[str], dict[str, Any]]
) -> None:
    run_id = runs.submit(runs.upload(HERE / "long_mix.py")["id"], {"cycles": CYCLES})  # holds lh, not reader
    runs.wait_steps(run_id, 1)
    # epoch 1: the run's own worker generation, so only the holdings can be the reason for a refusal
    deck = LoadRunDeck(bench_id=BENCH, run_id=run_id, machines={"reader": {}}, epoch=1)
    call = MachineCall(
        bench_id=BENCH, run_id=run_id, sequence=FORGED_SEQUENCE, machine="reader", method="open", epoch=1
    )

    ack, result = send(stack, deck, call)
    run = runs.wait_status(run_id, {"completed", "failed", "cancelled", "needs_operator"})

    assert_not_held(ack, run_id, "reader")
    assert_not_held(result, run_id, "reader")
    assert run["status"] == "completed", run
    steps = runs.steps(run_id)
    assert [s["step"] for s in steps] == list(range(1, CALLS + 1))
    assert all(s["machine"] == "lh" and s["error"] is None for s in steps)
    record = agent_record(run_id)
    assert record == {"performed": CALLS, "duplicated": [], "unknown": [], "max_sequence": CALLS}, record
