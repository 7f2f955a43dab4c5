"""People's commands: cancel, pause, resume, and an operator's recovery choice for a parked run.

Whichever replica consumes a command records what is wanted in the run (and ``RunControlRequested``); the run's
owner hears that event and tells its worker. A command the run's state cannot take was already answered with 409
by the gateway; one that races a state change is logged and dropped here, and one for a run nobody knows is a dead
letter (except a cancel, which may overtake the run's first event: it leaves a placeholder so the run never
starts).
"""

from __future__ import annotations

import logging

from praxis_contracts.executor import CancelRun, PauseRun, RecoverRun, ResumeRun
from praxis_executor.domain.errors import IllegalTransition, InvalidChoice
from praxis_executor.domain.run import Run
from praxis_executor.handlers.ports import UnitOfWork
from praxis_servicekit.consumer import PermanentError

log = logging.getLogger(__name__)


async def cancel_run(cmd: CancelRun, uow: UnitOfWork) -> None:
    run = await uow.runs.get(cmd.run_id)
    if run is None:  # only the scheduler knows it yet (the gateway checked): remember the cancel
        run = Run.queued(cmd.run_id)
        await uow.runs.add(run, cmd.caused())
    try:
        run.request_cancel(cmd.reason, cmd.requested_by)
    except IllegalTransition as exc:
        log.info("cancel of run %s ignored: %s", cmd.run_id, exc)
        return
    await uow.runs.save(run, cmd.caused())


async def pause_run(cmd: PauseRun, uow: UnitOfWork) -> None:
    run = await _existing(uow, cmd.run_id, "pause")
    try:
        run.request_pause(cmd.requested_by)
    except IllegalTransition as exc:
        log.info("pause of run %s ignored: %s", cmd.run_id, exc)
        return
    await uow.runs.save(run, cmd.caused())


async def resume_run(cmd: ResumeRun, uow: UnitOfWork) -> None:
    run = await _existing(uow, cmd.run_id, "resume")
    try:
        run.request_resume(cmd.requested_by)
    except IllegalTransition as exc:
        log.info("resume of run %s ignored: %s", cmd.run_id, exc)
        return
    await uow.runs.save(run, cmd.caused())


async def recover_run(cmd: RecoverRun, uow: UnitOfWork) -> None:
    run = await _existing(uow, cmd.run_id, "recover")
    try:
        run.request_recover(cmd.choice, cmd.requested_by)
    except InvalidChoice as exc:
        raise PermanentError(f"run {cmd.run_id}: {exc}") from exc
    except IllegalTransition as exc:
        log.info("recovery of run %s ignored: %s", cmd.run_id, exc)
        return
    await uow.runs.save(run, cmd.caused())


async def _existing(uow: UnitOfWork, run_id: str, what: str) -> Run:
    run = await uow.runs.get(run_id)
    if run is None:
        raise PermanentError(f"cannot {what} run {run_id}: no such run")
    return run
