"""One rule for which run accepts which command, shared by the gateway (409) and the executor."""

from __future__ import annotations

import pytest

from praxis_contracts.runs import RunAction, RunStatus, refusal

S = RunStatus
ACCEPTS: dict[RunAction, set[RunStatus]] = {
    "cancel": {S.QUEUED, S.SCHEDULED, S.STARTING, S.RUNNING, S.PAUSED, S.NEEDS_OPERATOR},
    "pause": {S.STARTING, S.RUNNING},
    "resume": {S.PAUSED},
    "recover": {S.NEEDS_OPERATOR},
}


@pytest.mark.parametrize("action", list(ACCEPTS))
@pytest.mark.parametrize("status", list(RunStatus))
def test_refusal_table(action: RunAction, status: RunStatus) -> None:
    why = refusal(status, action)
    if status in ACCEPTS[action]:
        assert why is None
    else:
        assert why and (status.value in why or "already" in why), why


def test_a_pending_pause_can_be_resumed_but_not_paused_again() -> None:
    assert refusal(S.RUNNING, "resume", pause_requested=True) is None
    assert refusal(S.RUNNING, "pause", pause_requested=True) is not None
