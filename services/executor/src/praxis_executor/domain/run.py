"""The ``Run`` aggregate: every change of a run's state goes through here, and nothing else writes a status.

States (the vocabulary is ``praxis_contracts.runs.RunStatus``)::

    queued -> scheduled -> starting -> running <-> paused
                                          |  \\-> needs_operator -> running (an operator's choice)
                                          v
                  completed | failed | cancelled        (rejected: never placeable)

Three kinds of input reach a run, each through its own methods:

* the scheduler's decisions (``wait``, ``reject``, ``schedule``);
* people's commands (``request_cancel|pause|resume|recover``): they record what is *wanted*; a worker carries it
  out and the run's state changes only when the worker says it has (a pause is recorded when the worker *is*
  paused, not when someone asked);
* the reports of the run's worker (``worker_*``), fenced by owner and epoch: a worker that no longer drives the run
  is refused (:class:`StaleWorker`), so two workers never both move one run.

The aggregate is pure: it records what happened in ``changes`` and the repository turns them into run events.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any, Literal

from praxis_contracts.runs import (
    Assignment,
    Parked,
    ParkKind,
    RecoveryChoice,
    RunAction,
    RunStatus,
    refusal,
)
from praxis_executor.domain.errors import IllegalTransition, InvalidChoice, StaleWorker

S = RunStatus
WORKING = frozenset({S.STARTING, S.RUNNING, S.PAUSED})
"""States in which a run has (or is about to have) a worker."""
MAX_CRASHES_WITHOUT_PROGRESS = 3
"""A worker that dies this many times in a row at the same step parks the run instead of looping for ever."""
LIMIT_SIGNALS = {
    signal.SIGXCPU: "the protocol used up its CPU time limit",
    signal.SIGXFSZ: "the protocol wrote more output than its limit allows",
}
"""Exits that are the protocol's own doing: the run fails with the reason, it is not replayed."""


# ---------------------------------------------------------------------------------------------- what changed


@dataclass(frozen=True)
class StatusChanged:
    status: RunStatus
    reason: str | None = None
    parked: Parked | None = None


@dataclass(frozen=True)
class Started:
    worker_pid: int | None


@dataclass(frozen=True)
class Finished:
    status: RunStatus
    error: str | None
    traceback: str | None


@dataclass(frozen=True)
class ControlRequested:
    action: RunAction
    requested_by: str
    owner: str | None
    detail: str = ""


@dataclass(frozen=True)
class Recovering:
    owner: str
    epoch: int
    journaled_steps: int
    reason: str


Change = StatusChanged | Started | Finished | ControlRequested | Recovering


@dataclass(frozen=True)
class Recovery:
    """An operator's choice for one step, applied by the next worker when its replay reaches that step."""

    step: int
    choice: Literal["happened", "retry"]


@dataclass(frozen=True)
class WorkerExit:
    """How a worker process ended without saying how its run ended."""

    code: int | None
    signal: int | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"the worker was killed by {name}"
        return f"the worker exited with code {self.code}"


CrashDecision = Literal["restart", "parked", "finished"]


# ---------------------------------------------------------------------------------------------- the aggregate


@dataclass
class Run:
    id: str
    status: RunStatus
    protocol_id: str = ""
    protocol_name: str = ""
    source_hash: str = ""
    function: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    simulate: bool = True
    submitted_by: str = ""
    submitted_role: str = ""
    assignment: Assignment | None = None
    reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    last_step: int = 0
    cancel_requested: bool = False
    pause_requested: bool = False
    parked: Parked | None = None
    recovery: Recovery | None = None
    owner: str | None = None
    worker_epoch: int = 0
    crashes: int = 0
    crash_step: int = 0
    outputs_size: int = 0
    changes: list[Change] = field(default_factory=list)

    # ------------------------------------------------------------------------------------ the scheduler

    @classmethod
    def queued(cls, run_id: str, **fields: Any) -> Run:
        run = cls(id=run_id, status=S.QUEUED, **fields)
        run.changes.append(StatusChanged(S.QUEUED))
        return run

    def wait(self, reason: str) -> None:
        """The scheduler cannot place the run yet; only a new reason is worth an event."""
        self._require({S.QUEUED}, "wait in the queue")
        if reason != self.reason:
            self.reason = reason
            self.changes.append(StatusChanged(S.QUEUED, reason))

    def reject(self, reason: str) -> None:
        self._require({S.QUEUED}, "be rejected")
        self.reason = reason
        self._finish(S.REJECTED, error=reason)

    def schedule(self, assignment: Assignment, owner: str) -> None:
        """Placed: the run now holds its assets, and ``owner`` (the replica that heard it) drives it."""
        self._require({S.QUEUED}, "be scheduled")
        self.assignment, self.reason, self.owner = assignment, None, owner
        self._set(S.SCHEDULED)
        self._set(S.STARTING)

    # ------------------------------------------------------------------------------------ people

    def request_cancel(self, reason: str, by: str) -> None:
        """Before a worker exists (or while none can act: parked) a cancel is immediate; otherwise it is asked of
        the worker, which stops before its next machine call and says so."""
        self._refuse("cancel")
        if self.status in (S.QUEUED, S.SCHEDULED, S.NEEDS_OPERATOR):
            self._finish(S.CANCELLED, error=reason)
            return
        if not self.cancel_requested:
            self.cancel_requested = True
            self.changes.append(ControlRequested("cancel", by, self.owner, reason))

    def request_pause(self, by: str) -> None:
        self._refuse("pause")
        self.pause_requested = True
        self.changes.append(ControlRequested("pause", by, self.owner))

    def request_resume(self, by: str) -> None:
        self._refuse("resume")
        self.pause_requested = False
        self.changes.append(ControlRequested("resume", by, self.owner))

    def request_recover(self, choice: RecoveryChoice, by: str) -> None:
        """An operator's answer to a parked run: *abort* ends it; *happened* and *retry* resume it, and the next
        worker applies the choice to the parked step when its replay gets there."""
        self._refuse("recover")
        parked = self.parked
        assert parked is not None  # needs_operator always has its parked record
        if choice not in parked.choices:
            raise InvalidChoice(f"step {parked.step} offers {parked.choices}, not {choice!r}")
        who = by or "an operator"
        if choice == "abort":
            self._finish(S.CANCELLED, error=f"aborted by {who} at step {parked.step}: {parked.reason}")
            return
        self.parked, self.crashes = None, 0
        self.recovery = Recovery(parked.step, choice)
        self._set(S.RUNNING, f"{who} chose '{choice}' for step {parked.step}")
        self.changes.append(ControlRequested("recover", by, self.owner, choice))

    # ------------------------------------------------------------------------------------ the worker

    @property
    def needs_worker(self) -> bool:
        """Active and not waiting for a person: its owner must keep a worker running for it."""
        return self.status in WORKING

    def begin_worker(self, owner: str, reason: str) -> int | None:
        """A new worker generation for this run; returns its epoch (None: the run needs no worker after all)."""
        if self.owner != owner:
            raise StaleWorker(f"run {self.id} is owned by {self.owner or 'nobody'}, not {owner}")
        if not self.needs_worker:
            return None
        if self.cancel_requested:  # cancelled while no worker ran: nothing to stop
            self._finish(S.CANCELLED, error="cancelled")
            return None
        self.worker_epoch += 1
        if self.worker_epoch > 1 or self.last_step > 0:
            self.changes.append(Recovering(owner, self.worker_epoch, self.last_step, reason))
        return self.worker_epoch

    def check_driver(self, owner: str, epoch: int) -> None:
        if self.owner != owner or self.worker_epoch != epoch:
            raise StaleWorker(
                f"run {self.id} is driven by {self.owner or 'nobody'} epoch {self.worker_epoch}, "
                f"not {owner} epoch {epoch}"
            )

    def worker_started(self, owner: str, epoch: int, pid: int | None) -> None:
        self.check_driver(owner, epoch)
        self._require(WORKING, "start a worker")
        if self.status == S.STARTING:
            self.changes.append(Started(pid))
            self._set(S.RUNNING)

    def steps_recorded(self, owner: str, epoch: int, last_step: int) -> None:
        self.check_driver(owner, epoch)
        self._require(WORKING, "record machine calls")
        self.last_step = max(self.last_step, last_step)
        if self.recovery is not None and self.last_step >= self.recovery.step:
            self.recovery = None  # the operator's choice is now in the journal
        if self.last_step > self.crash_step:
            self.crashes = 0

    def worker_paused(self, owner: str, epoch: int) -> None:
        self.check_driver(owner, epoch)
        self._require({S.RUNNING}, "be paused")
        self._set(S.PAUSED)

    def worker_resumed(self, owner: str, epoch: int) -> None:
        self.check_driver(owner, epoch)
        self._require({S.PAUSED}, "resume")
        self._set(S.RUNNING)

    def worker_parked(self, owner: str, epoch: int, parked: Parked) -> None:
        self.check_driver(owner, epoch)
        self._require(WORKING, "park")
        if self.cancel_requested:  # someone already wants it gone: do not ask them again
            self._finish(S.CANCELLED, error=f"cancelled; it stopped at step {parked.step}: {parked.reason}")
            return
        self._park(parked)

    def worker_finished(
        self,
        owner: str,
        epoch: int,
        status: RunStatus,
        error: str | None = None,
        traceback: str | None = None,
        outputs_size: int = 0,
    ) -> None:
        self.check_driver(owner, epoch)
        if status not in (S.COMPLETED, S.FAILED, S.CANCELLED):
            raise IllegalTransition(self.status, f"end as {status.value}")
        self._require(WORKING, f"end as {status.value}")
        self.outputs_size = outputs_size
        self._finish(status, error=error, traceback=traceback)

    def worker_suspended(self, owner: str, epoch: int) -> None:
        """The worker stopped cleanly for a hand-over (its executor is shutting down): the run stays as it is and
        its ownership is released, so any replica may take it over at once."""
        self.check_driver(owner, epoch)
        self._require(WORKING, "hand its worker over")
        self.owner = None

    def worker_exited(self, owner: str, epoch: int, exit: WorkerExit) -> CrashDecision:
        """The worker died without saying how its run ended: replay it again, unless it is the protocol's own
        doing (a resource limit) or it keeps dying at the same step."""
        self.check_driver(owner, epoch)
        self._require(WORKING, "lose its worker")
        what = exit.describe()
        if self.cancel_requested:
            self._finish(S.CANCELLED, error=f"cancelled; {what} before it could report")
            return "finished"
        if exit.signal in LIMIT_SIGNALS:
            self._finish(
                S.FAILED, error=f"{LIMIT_SIGNALS[signal.Signals(exit.signal)]} ({what})", traceback=exit.detail
            )
            return "finished"
        self.crashes = 1 if self.last_step > self.crash_step or self.crashes == 0 else self.crashes + 1
        self.crash_step = self.last_step
        if self.crashes >= MAX_CRASHES_WITHOUT_PROGRESS:
            reason = f"{what} {self.crashes} times in a row before step {self.last_step + 1}"
            self._park(Parked(step=self.last_step + 1, kind="worker_crash", reason=reason, choices=["retry", "abort"]))
            return "parked"
        return "restart"

    # ------------------------------------------------------------------------------------ internals

    def _park(self, parked: Parked) -> None:
        self.parked, self.pause_requested = parked, False
        self.changes.append(StatusChanged(S.NEEDS_OPERATOR, parked.reason, parked))
        self.status, self.reason = S.NEEDS_OPERATOR, parked.reason

    def _finish(self, status: RunStatus, *, error: str | None = None, traceback: str | None = None) -> None:
        self.status, self.error, self.traceback = status, error, traceback
        self.cancel_requested = self.pause_requested = False
        self.parked = self.recovery = None
        self.owner = None
        self.changes.append(StatusChanged(status, error))
        self.changes.append(Finished(status, error, traceback))

    def _set(self, status: RunStatus, reason: str | None = None) -> None:
        self.status, self.reason = status, reason
        self.changes.append(StatusChanged(status, reason))

    def _require(self, allowed: set[RunStatus] | frozenset[RunStatus], what: str) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.status, what)

    def _refuse(self, action: RunAction) -> None:
        why = refusal(self.status, action, pause_requested=self.pause_requested)
        if why is not None:
            raise IllegalTransition(self.status, action, why)


def park_choices(kind: ParkKind) -> list[RecoveryChoice]:
    """What an operator may choose for each way a run can park."""
    if kind in ("unknown_outcome", "bench_unreachable"):
        return ["happened", "retry", "abort"]
    return ["retry", "abort"]
