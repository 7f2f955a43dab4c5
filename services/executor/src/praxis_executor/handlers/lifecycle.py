"""The scheduler's decisions, applied to runs: queued, waiting, rejected, scheduled.

Events for a run that already ended (a cancel raced the schedule) change nothing; the one that schedules a run
makes this executor instance its owner in the same transaction, and starts its worker once that is durable.
"""

from __future__ import annotations

import logging

from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled, RunWaiting
from praxis_executor.domain.errors import IllegalTransition
from praxis_executor.domain.run import Run
from praxis_executor.handlers.ports import Owner, UnitOfWork

log = logging.getLogger(__name__)


async def run_queued(evt: RunQueued, uow: UnitOfWork) -> None:
    fields = {
        "protocol_id": evt.protocol_id,
        "protocol_name": evt.protocol_name,
        "source_hash": evt.source_hash,
        "function": evt.function,
        "parameters": evt.parameters,
        "simulate": evt.simulate,
        "submitted_by": evt.submitted_by,
        "submitted_role": evt.submitted_role,
    }
    run = await uow.runs.get(evt.run_id)
    if run is None:
        await uow.runs.add(Run.queued(evt.run_id, **fields), evt.caused())
        return
    for name, value in fields.items():  # a cancel or the schedule arrived first: fill in what it could not know
        if not getattr(run, name):
            setattr(run, name, value)
    await uow.runs.save(run, evt.caused())


async def run_waiting(evt: RunWaiting, uow: UnitOfWork) -> None:
    run = await uow.runs.get(evt.run_id)
    if run is None:
        return  # RunQueued (the same scheduler transaction) will create it; the next wait says the reason again
    try:
        run.wait(evt.reason)
    except IllegalTransition:
        return  # already placed or ended: the reason is stale
    await uow.runs.save(run, evt.caused())


async def run_rejected(evt: RunRejected, uow: UnitOfWork) -> None:
    run = await uow.runs.get(evt.run_id)
    if run is None:
        run = Run.queued(evt.run_id)
        await uow.runs.add(run, evt.caused())
    try:
        run.reject(evt.reason)
    except IllegalTransition as exc:
        log.info("rejection of run %s ignored: %s", evt.run_id, exc)
        return
    await uow.runs.save(run, evt.caused())


async def run_scheduled(evt: RunScheduled, uow: UnitOfWork, owner: Owner) -> None:
    run = await uow.runs.get(evt.run_id)
    created = run is None
    if run is None:  # RunQueued not seen yet (another consumer): the schedule carries all the worker needs
        run = Run.queued(
            evt.run_id,
            protocol_id=evt.protocol_id,
            source_hash=evt.source_hash,
            function=evt.function,
            parameters=evt.parameters,
            simulate=evt.simulate,
            submitted_by=evt.submitted_by,
            submitted_role=evt.submitted_role,
        )
    if not run.submitted_role and evt.submitted_role:
        run.submitted_by, run.submitted_role = evt.submitted_by, evt.submitted_role
    try:
        run.schedule(evt.assignment, owner.instance)
    except IllegalTransition as exc:  # cancelled before it was placed: RunFinished already frees the assets
        log.info("schedule of run %s ignored: %s", evt.run_id, exc)
        return
    if created:
        await uow.runs.add(run, evt.caused())
    else:
        await uow.runs.save(run, evt.caused())
    await uow.leases.claim(run.id, owner.instance)
    uow.after_commit(lambda: owner.drive(evt.run_id))
