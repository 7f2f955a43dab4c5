"""The pure rules of the call record: what a key means, and how a request for a recorded key is answered."""

from __future__ import annotations

from typing import Any

import pytest

from praxis_contracts.hardware import CallRefusal, MachineCall, MachineCallResult
from praxis_hardware_agent.domain.call_record import (
    CallState,
    StoredCall,
    call_digest,
    is_refusal,
    judge,
    refusal,
    stale_worker,
)


def request(**changes: Any) -> MachineCall:
    fields: dict[str, Any] = {"bench_id": "b", "run_id": "r", "sequence": 3, "machine": "lh", "method": "aspirate"}
    return MachineCall(**{**fields, "args": {"vol": 10.0, "ch": [0]}, **changes})


def recorded(state: CallState, call: MachineCall | None = None) -> StoredCall:
    call = call or request()
    intent = StoredCall.intent(call, call_digest(call.machine, call.method, call.args), at=1.0)
    return intent.done(MachineCallResult(ok=True, result=42)) if state is CallState.DONE else intent


def decide(stored: StoredCall, call: MachineCall, **kwargs: Any) -> tuple[str, CallRefusal | None]:
    decision = judge(stored, call, call_digest(call.machine, call.method, call.args), **kwargs)
    return decision.action, decision.refusal


class TestDigest:
    def test_it_ignores_key_order_and_sees_every_change(self) -> None:
        assert call_digest("lh", "aspirate", {"a": 1, "b": [1, 2]}) == call_digest(
            "lh", "aspirate", {"b": [1, 2], "a": 1}
        )
        base = call_digest("lh", "aspirate", {"a": 1})
        assert base != call_digest("lh", "dispense", {"a": 1})
        assert base != call_digest("lh2", "aspirate", {"a": 1})
        assert base != call_digest("lh", "aspirate", {"a": 2})


class TestJudge:
    def test_a_done_key_with_the_same_action_is_replayed(self) -> None:
        assert decide(recorded(CallState.DONE), request()) == ("replay", None)

    @pytest.mark.parametrize("changes", [{"method": "dispense"}, {"machine": "lh2"}, {"args": {"vol": 11.0}}])
    @pytest.mark.parametrize("state", list(CallState))
    def test_another_action_under_the_key_is_a_conflict(self, changes: dict[str, Any], state: CallState) -> None:
        call = request(**changes, perform_if_unknown=True)
        assert decide(recorded(state), call, simulated=True) == ("refuse", CallRefusal.CONFLICT)
        reason = judge(recorded(state), call, call_digest(call.machine, call.method, call.args)).reason
        assert "lh.aspirate" in reason and f"{call.machine}.{call.method}" in reason and "r:3" in reason

    def test_a_started_key_is_unknown_unless_an_operator_retries(self) -> None:
        assert decide(recorded(CallState.STARTED), request()) == ("refuse", CallRefusal.OUTCOME_UNKNOWN)
        assert decide(recorded(CallState.STARTED), request(perform_if_unknown=True)) == ("perform", None)

    def test_a_started_key_of_a_simulated_machine_is_performed(self) -> None:
        assert decide(recorded(CallState.STARTED), request(), simulated=True) == ("perform", None)

    def test_an_operator_retry_never_repeats_a_done_key(self) -> None:
        assert decide(recorded(CallState.DONE), request(perform_if_unknown=True)) == ("replay", None)


def test_fencing() -> None:
    assert stale_worker("r", 2, 2) is None and stale_worker("r", 3, 2) is None
    message = stale_worker("r", 1, 2)
    assert message is not None and "epoch 2" in message and "epoch 1" in message


def test_refusals_are_told_apart_from_device_failures() -> None:
    refused = refusal(request(), CallRefusal.IN_PROGRESS, "ask again")
    assert is_refusal(refused) and refused.error_type == "InProgress" and refused.causation_id
    assert not is_refusal(MachineCallResult(ok=False, error_type="ValueError"))
    assert not is_refusal(MachineCallResult(ok=True))
