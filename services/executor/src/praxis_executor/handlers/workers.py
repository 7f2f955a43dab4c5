"""A run's worker, as its owner's supervisor reports it: a new generation begins, reports arrive, it exits.

Every function here loads the run (locked), lets the domain decide and saves; each is fenced by owner and epoch,
so a worker that no longer drives its run is refused (``StaleWorker``) and its supervisor stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from praxis_contracts.runs import Assignment, Parked, RunStatus
from praxis_executor.domain.errors import IllegalTransition, StaleWorker
from praxis_executor.domain.run import CrashDecision, Run, WorkerExit
from praxis_executor.handlers.ports import RunInputs, UnitOfWork
from praxis_executor.worker.protocol import (
    CallReport,
    FinishedReport,
    JournalEntry,
    ParkedReport,
    PausedReport,
    RecoveryPlan,
    Report,
    ResumedReport,
    StartedReport,
    SupersededReport,
    SuspendedReport,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerPlan:
    """What a new worker generation of a run starts from."""

    run_id: str
    epoch: int
    source_hash: str
    function: str
    parameters: dict[str, Any]
    assignment: Assignment
    journal: list[JournalEntry]
    recovery: RecoveryPlan | None
    start_paused: bool
    inputs: RunInputs | None
    submitted_by: str = ""
    submitted_role: str = ""


async def begin_worker(run_id: str, owner: str, reason: str, uow: UnitOfWork) -> WorkerPlan | None:
    """A new generation for a run ``owner`` drives; None when the run needs no worker (ended, parked, taken)."""
    run = await uow.runs.get(run_id)
    if run is None:
        return None
    try:
        epoch = run.begin_worker(owner, reason)
    except StaleWorker as exc:
        log.info("not starting a worker: %s", exc)
        return None
    await uow.runs.save(run, _tracing(run))
    if epoch is None:
        return None
    assert run.assignment is not None  # a run that needs a worker was scheduled
    recovery = RecoveryPlan(step=run.recovery.step, choice=run.recovery.choice) if run.recovery else None
    return WorkerPlan(
        run_id=run.id,
        epoch=epoch,
        source_hash=run.source_hash,
        function=run.function,
        parameters=run.parameters,
        assignment=run.assignment,
        journal=await uow.runs.journal(run_id) if run.last_step else [],
        recovery=recovery,
        start_paused=run.pause_requested or run.status == RunStatus.PAUSED,
        inputs=await uow.runs.inputs(run_id),
        submitted_by=run.submitted_by,
        submitted_role=run.submitted_role,
    )


async def remember_inputs(run_id: str, owner: str, epoch: int, inputs: RunInputs, uow: UnitOfWork) -> None:
    """Keep the first worker's bench descriptions: every later generation replays against the same deck."""
    run = await uow.runs.get(run_id)
    if run is None:
        return
    run.check_driver(owner, epoch)
    if await uow.runs.inputs(run_id) is None:
        await uow.runs.save_inputs(run_id, inputs)


async def handle_reports(run_id: str, owner: str, epoch: int, reports: Sequence[Report], uow: UnitOfWork) -> None:
    """Apply a batch of one worker's reports, in order, in one transaction (the journal keeps up with the worker
    by writing every report that arrived meanwhile at once)."""
    run = await uow.runs.get(run_id)
    if run is None:
        raise StaleWorker(f"run {run_id} does not exist")
    run.check_driver(owner, epoch)
    calls: list[CallReport] = []
    for report in reports:
        if isinstance(report, CallReport):
            calls.append(report)
            continue
        if calls:
            await _journal(run, owner, epoch, calls, uow)
            calls = []
        try:
            await _apply(run, owner, epoch, report, uow)
        except IllegalTransition as exc:  # a report the run's state cannot take: say so, keep the others
            log.warning("run %s: report %s refused: %s", run_id, report.type, exc)
    if calls:
        await _journal(run, owner, epoch, calls, uow)
    await uow.runs.save(run, _tracing(run))


async def _journal(run: Run, owner: str, epoch: int, calls: list[CallReport], uow: UnitOfWork) -> None:
    await uow.runs.record_calls(run, calls, _tracing(run))
    run.steps_recorded(owner, epoch, max(c.sequence for c in calls))


async def _apply(run: Run, owner: str, epoch: int, report: Report, uow: UnitOfWork) -> None:
    if isinstance(report, StartedReport):
        run.worker_started(owner, epoch, report.pid)
    elif isinstance(report, PausedReport):
        run.worker_paused(owner, epoch)
    elif isinstance(report, ResumedReport):
        run.worker_resumed(owner, epoch)
    elif isinstance(report, ParkedReport):
        parked = Parked(step=report.step, kind=report.kind, reason=report.reason, choices=report.choices)
        run.worker_parked(owner, epoch, parked)
    elif isinstance(report, SuspendedReport):
        run.worker_suspended(owner, epoch)
    elif isinstance(report, SupersededReport):
        raise StaleWorker(f"a bench refused the worker of run {run.id}: {report.detail}")
    elif isinstance(report, FinishedReport):
        size = await uow.runs.save_outputs(run.id, report.outputs)
        run.worker_finished(owner, epoch, RunStatus(report.status), report.error, report.traceback, size)


async def worker_exited(run_id: str, owner: str, epoch: int, exit: WorkerExit, uow: UnitOfWork) -> CrashDecision:
    """The worker ended without an ending report: the domain decides between replaying, parking and failing."""
    run = await uow.runs.get(run_id)
    if run is None:
        return "finished"
    decision = run.worker_exited(owner, epoch, exit)
    await uow.runs.save(run, _tracing(run))
    return decision


def _tracing(run: Run) -> dict[str, str | None]:
    return {"correlation_id": run.id}
