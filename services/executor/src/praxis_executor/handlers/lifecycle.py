"""Scheduler decisions -> run states. Every transition is checked by the domain state machine, and events for
runs that already ended (a cancel raced the schedule) change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from praxis_contracts.executor import RunFinished, RunStatusChanged
from praxis_contracts.runs import RunStatus
from praxis_contracts.scheduler import RunQueued, RunRejected, RunScheduled, RunWaiting
from praxis_executor.adapters.run_store import RunStore
from praxis_executor.domain.run_state import can_transition
from praxis_executor.handlers.ports import Supervisor
from praxis_servicekit import metrics


async def run_queued(evt: RunQueued, uow: Any) -> None:
    store = RunStore(uow)
    fields = {
        "protocol_id": evt.protocol_id,
        "protocol_name": evt.protocol_name,
        "source_hash": evt.source_hash,
        "function": evt.function,
        "parameters": evt.parameters,
        "simulate": evt.simulate,
    }
    if await store.create(evt.run_id, RunStatus.QUEUED, **fields):
        await store.emit(
            evt.run_id,
            lambda seq: RunStatusChanged(run_id=evt.run_id, seq=seq, status=RunStatus.QUEUED, **evt.caused()),
        )
    else:  # a cancel arrived first and left a placeholder: fill in what it could not know
        await store.update(evt.run_id, **fields)


async def run_waiting(evt: RunWaiting, uow: Any) -> None:
    store = RunStore(uow)
    row = await store.lock(evt.run_id)
    if row is None or row.status != RunStatus.QUEUED.value or row.reason == evt.reason:
        return
    await store.update(evt.run_id, reason=evt.reason)
    await store.emit(
        evt.run_id,
        lambda seq: RunStatusChanged(
            run_id=evt.run_id, seq=seq, status=RunStatus.QUEUED, reason=evt.reason, **evt.caused()
        ),
    )


async def run_rejected(evt: RunRejected, uow: Any) -> None:
    store = RunStore(uow)
    row = await store.lock(evt.run_id)
    if row is None:
        await store.create(evt.run_id, RunStatus.QUEUED)
    elif not can_transition(RunStatus(row.status), RunStatus.REJECTED):
        return
    await store.update(evt.run_id, status=RunStatus.REJECTED, reason=evt.reason, error=evt.reason)
    metrics.RUNS.labels(RunStatus.REJECTED.value).inc()
    await store.emit(
        evt.run_id,
        lambda seq: RunStatusChanged(
            run_id=evt.run_id, seq=seq, status=RunStatus.REJECTED, reason=evt.reason, **evt.caused()
        ),
    )
    await store.emit(
        evt.run_id,
        lambda seq: RunFinished(
            run_id=evt.run_id, seq=seq, status=RunStatus.REJECTED, error=evt.reason, **evt.caused()
        ),
    )


async def run_scheduled(evt: RunScheduled, uow: Any, supervisor: Supervisor) -> None:
    store = RunStore(uow)
    row = await store.lock(evt.run_id)
    if row is None:  # RunQueued not seen yet (separate consumers): the schedule carries all we need
        await store.create(
            evt.run_id,
            RunStatus.QUEUED,
            protocol_id=evt.protocol_id,
            source_hash=evt.source_hash,
            function=evt.function,
            parameters=evt.parameters,
            simulate=evt.simulate,
        )
    elif not can_transition(RunStatus(row.status), RunStatus.SCHEDULED):
        return
    await store.update(
        evt.run_id, status=RunStatus.STARTING, reason=None, assignment=evt.assignment.model_dump(mode="json")
    )
    for status in (RunStatus.SCHEDULED, RunStatus.STARTING):
        await store.emit(evt.run_id, _status_event(evt.run_id, status, evt.caused()))
    uow.after_commit(lambda: supervisor.start(evt.run_id))


def _status_event(run_id: str, status: RunStatus, tracing: dict[str, str | None]) -> Callable[[int], RunStatusChanged]:
    def make(seq: int) -> RunStatusChanged:
        return RunStatusChanged(run_id=run_id, seq=seq, status=status, **tracing)

    return make
