"""The run state machine, table-driven: every (state, input) pair either gives the state the table says or is
refused with a reason; and the rules around the table (fencing, crash loops, recovery choices)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from praxis_contracts.runs import Assignment, Parked, RunStatus
from praxis_executor.domain.errors import IllegalTransition, InvalidChoice, StaleWorker
from praxis_executor.domain.run import (
    ControlRequested,
    Finished,
    Recovering,
    Run,
    Started,
    StatusChanged,
    WorkerExit,
)

S = RunStatus
ME = "executor-1"
PARKED = Parked(step=7, kind="unknown_outcome", reason="agent died mid-call", choices=["happened", "retry", "abort"])


def run_in(status: RunStatus, **fields: object) -> Run:
    values: dict[str, object] = {"owner": ME, "worker_epoch": 1, "assignment": Assignment(), "last_step": 6, **fields}
    run = Run(id="r1", status=status, **values)  # type: ignore[arg-type]
    if status == S.NEEDS_OPERATOR:
        run.parked = PARKED
    return run


INPUTS: dict[str, Callable[[Run], object]] = {
    "wait": lambda r: r.wait("all benches busy"),
    "reject": lambda r: r.reject("no bench has a heater"),
    "schedule": lambda r: r.schedule(Assignment(), ME),
    "cancel": lambda r: r.request_cancel("enough", "alice"),
    "pause": lambda r: r.request_pause("alice"),
    "resume": lambda r: r.request_resume("alice"),
    "recover": lambda r: r.request_recover("retry", "olga"),
    "started": lambda r: r.worker_started(ME, 1, 4242),
    "calls": lambda r: r.steps_recorded(ME, 1, 9),
    "paused": lambda r: r.worker_paused(ME, 1),
    "resumed": lambda r: r.worker_resumed(ME, 1),
    "parked": lambda r: r.worker_parked(ME, 1, PARKED),
    "finished": lambda r: r.worker_finished(ME, 1, S.COMPLETED),
    "suspended": lambda r: r.worker_suspended(ME, 1),
    "exited": lambda r: r.worker_exited(ME, 1, WorkerExit(code=None, signal=signal.SIGKILL)),
}

X = None  # refused
# fmt: off
COLUMNS = [S.QUEUED, S.SCHEDULED, S.STARTING, S.RUNNING, S.PAUSED, S.NEEDS_OPERATOR,
           S.COMPLETED, S.FAILED, S.CANCELLED, S.REJECTED]
TABLE: dict[str, list[RunStatus | None]] = {
    #             queued       scheduled    starting     running      paused       needs_op     done x4
    "wait":      [S.QUEUED,    X,           X,           X,           X,           X,           X, X, X, X],
    "reject":    [S.REJECTED,  X,           X,           X,           X,           X,           X, X, X, X],
    "schedule":  [S.STARTING,  X,           X,           X,           X,           X,           X, X, X, X],
    "cancel":    [S.CANCELLED, S.CANCELLED, S.STARTING,  S.RUNNING,   S.PAUSED,    S.CANCELLED, X, X, X, X],
    "pause":     [X,           X,           S.STARTING,  S.RUNNING,   X,           X,           X, X, X, X],
    "resume":    [X,           X,           X,           X,           S.PAUSED,    X,           X, X, X, X],
    "recover":   [X,           X,           X,           X,           X,           S.RUNNING,   X, X, X, X],
    "started":   [X,           X,           S.RUNNING,   S.RUNNING,   S.PAUSED,    X,           X, X, X, X],
    "calls":     [X,           X,           S.STARTING,  S.RUNNING,   S.PAUSED,    X,           X, X, X, X],
    "paused":    [X,           X,           X,           S.PAUSED,    X,           X,           X, X, X, X],
    "resumed":   [X,           X,           X,           X,           S.RUNNING,   X,           X, X, X, X],
    "parked":    [X,           X,           S.NEEDS_OPERATOR, S.NEEDS_OPERATOR, S.NEEDS_OPERATOR, X, X, X, X, X],
    "finished":  [X,           X,           S.COMPLETED, S.COMPLETED, S.COMPLETED, X,           X, X, X, X],
    "suspended": [X,           X,           S.STARTING,  S.RUNNING,   S.PAUSED,    X,           X, X, X, X],
    "exited":    [X,           X,           S.STARTING,  S.RUNNING,   S.PAUSED,    X,           X, X, X, X],
}
# fmt: on
CASES = [(name, state, TABLE[name][i]) for name in TABLE for i, state in enumerate(COLUMNS)]


def test_the_table_covers_every_state_and_input() -> None:
    assert set(COLUMNS) == set(RunStatus)
    assert set(TABLE) == set(INPUTS)


@pytest.mark.parametrize(("name", "state", "expected"), CASES, ids=[f"{n}-{s.value}" for n, s, _ in CASES])
def test_transition(name: str, state: RunStatus, expected: RunStatus | None) -> None:
    run = run_in(state)
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            INPUTS[name](run)
        assert str(refused.value), "a refusal says why"
        assert run.status == state and run.changes == [], "a refused input changes nothing"
        return
    INPUTS[name](run)
    assert run.status == expected


class TestPeopleAskWorkersDo:
    def test_pause_is_recorded_when_the_worker_is_paused_not_when_asked(self) -> None:
        run = run_in(S.RUNNING)
        run.request_pause("alice")
        assert run.status == S.RUNNING and run.pause_requested
        assert run.changes == [ControlRequested("pause", "alice", ME)]
        run.worker_paused(ME, 1)
        assert run.status == S.PAUSED

    def test_a_second_pause_is_refused_and_resume_cancels_a_pending_one(self) -> None:
        run = run_in(S.RUNNING)
        run.request_pause("alice")
        with pytest.raises(IllegalTransition, match="already paused"):
            run.request_pause("bob")
        run.request_resume("bob")
        assert not run.pause_requested and run.status == S.RUNNING

    def test_cancelling_an_active_run_asks_its_worker(self) -> None:
        run = run_in(S.RUNNING)
        run.request_cancel("enough", "alice")
        assert run.status == S.RUNNING and run.cancel_requested
        run.request_cancel("really", "bob")  # asked once is enough
        assert run.changes == [ControlRequested("cancel", "alice", ME, "enough")]

    def test_a_finished_run_refuses_commands_naming_its_state(self) -> None:
        with pytest.raises(IllegalTransition, match="completed"):
            run_in(S.COMPLETED).request_cancel("late", "alice")


class TestFencing:
    @pytest.mark.parametrize(("owner", "epoch"), [("executor-2", 1), (ME, 2), (ME, 0)])
    def test_only_the_current_worker_of_the_owner_moves_the_run(self, owner: str, epoch: int) -> None:
        run = run_in(S.RUNNING)
        with pytest.raises(StaleWorker):
            run.worker_finished(owner, epoch, S.COMPLETED)
        assert run.status == S.RUNNING

    def test_each_new_worker_is_a_new_epoch_and_a_recovery_says_why(self) -> None:
        run = run_in(S.RUNNING)
        assert run.begin_worker(ME, "taken over") == 2
        assert run.changes == [Recovering(ME, 2, 6, "taken over")]
        with pytest.raises(StaleWorker):
            run.worker_started(ME, 1, 1)

    def test_a_run_owned_by_another_instance_gets_no_worker_from_us(self) -> None:
        with pytest.raises(StaleWorker):
            run_in(S.RUNNING).begin_worker("executor-2", "mine now?")

    def test_a_cancel_that_came_while_no_worker_ran_ends_the_run_instead(self) -> None:
        run = run_in(S.RUNNING, cancel_requested=True)
        assert run.begin_worker(ME, "restart") is None
        assert run.status == S.CANCELLED and run.owner is None

    def test_a_suspended_worker_hands_the_run_over(self) -> None:
        run = run_in(S.PAUSED)
        run.worker_suspended(ME, 1)
        assert run.status == S.PAUSED and run.owner is None


class TestWorkerCrashes:
    def test_a_killed_worker_is_replayed(self) -> None:
        assert run_in(S.RUNNING).worker_exited(ME, 1, WorkerExit(None, signal.SIGKILL)) == "restart"

    def test_a_worker_dying_again_and_again_at_one_step_parks_the_run(self) -> None:
        run = run_in(S.RUNNING)
        exit = WorkerExit(code=1)
        assert [run.worker_exited(ME, 1, exit) for _ in range(2)] == ["restart", "restart"]
        assert run.worker_exited(ME, 1, exit) == "parked"
        assert run.status == S.NEEDS_OPERATOR
        assert run.parked is not None and run.parked.kind == "worker_crash" and run.parked.step == 7
        assert run.parked.choices == ["retry", "abort"]

    def test_progress_between_crashes_resets_the_count(self) -> None:
        run = run_in(S.RUNNING)
        for step in (7, 8, 9, 10):
            assert run.worker_exited(ME, 1, WorkerExit(code=1)) == "restart"
            run.steps_recorded(ME, 1, step)

    @pytest.mark.parametrize("sig", [signal.SIGXCPU, signal.SIGXFSZ])
    def test_a_resource_limit_fails_the_run_with_the_reason(self, sig: signal.Signals) -> None:
        run = run_in(S.RUNNING)
        assert run.worker_exited(ME, 1, WorkerExit(None, sig)) == "finished"
        assert run.status == S.FAILED and run.error is not None and "limit" in run.error

    def test_a_worker_dying_while_cancelling_ends_the_run_cancelled(self) -> None:
        run = run_in(S.RUNNING, cancel_requested=True)
        run.worker_exited(ME, 1, WorkerExit(code=1))
        assert run.status == S.CANCELLED


class TestRecovery:
    def test_happened_and_retry_resume_and_remember_the_choice_for_the_step(self) -> None:
        run = run_in(S.NEEDS_OPERATOR)
        run.request_recover("happened", "olga")
        assert run.status == S.RUNNING and run.parked is None
        assert run.recovery is not None and (run.recovery.step, run.recovery.choice) == (7, "happened")
        assert StatusChanged(S.RUNNING, "olga chose 'happened' for step 7") in run.changes
        run.steps_recorded(ME, 1, 7)
        assert run.recovery is None, "once the step is journaled the choice is spent"

    def test_abort_ends_the_run_naming_the_step(self) -> None:
        run = run_in(S.NEEDS_OPERATOR)
        run.request_recover("abort", "olga")
        assert run.status == S.CANCELLED and run.error is not None and "step 7" in run.error
        assert Finished(S.CANCELLED, run.error, None) in run.changes

    def test_a_choice_the_run_does_not_offer_is_refused(self) -> None:
        run = run_in(S.NEEDS_OPERATOR)
        run.parked = Parked(step=3, kind="divergence", reason="not deterministic", choices=["retry", "abort"])
        with pytest.raises(InvalidChoice, match="happened"):
            run.request_recover("happened", "olga")

    def test_parking_while_a_cancel_is_pending_cancels(self) -> None:
        run = run_in(S.RUNNING, cancel_requested=True)
        run.worker_parked(ME, 1, PARKED)
        assert run.status == S.CANCELLED


def test_first_start_says_started_then_running() -> None:
    run = run_in(S.STARTING, last_step=0)
    run.worker_epoch = 0
    assert run.begin_worker(ME, "first") == 1
    assert run.changes == [], "a first start is no recovery"
    run.worker_started(ME, 1, 99)
    assert run.changes == [Started(99), StatusChanged(S.RUNNING)]
