"""Cancel, pause and resume. A run without a worker is settled here at once; a running one is told through its
worker, which honours control before its next machine call and reports how it ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from praxis_contracts.executor import CancelRun, PauseRun, ResumeRun, RunFinished, RunStatusChanged
from praxis_contracts.runs import RunStatus
from praxis_executor.adapters.run_store import RunStore
from praxis_executor.domain.run_state import can_transition, cancel_is_immediate
from praxis_executor.handlers.ports import Supervisor
from praxis_servicekit import metrics


async def cancel_run(cmd: CancelRun, uow: Any, supervisor: Supervisor) -> None:
    store = RunStore(uow)
    row = await store.lock(cmd.run_id)
    if row is None:  # cancel overtook the run's first event: remember it so the run never starts
        await store.create(cmd.run_id, RunStatus.QUEUED)
        current = RunStatus.QUEUED
    else:
        current = RunStatus(row.status)
    if current.terminal:
        return
    await store.update(cmd.run_id, cancel_requested=True)
    if cancel_is_immediate(current) or not supervisor.is_running(cmd.run_id):
        await finish(store, cmd.run_id, RunStatus.CANCELLED, error=cmd.reason, caused=cmd.caused())
        return
    uow.after_commit(lambda: supervisor.control(cmd.run_id, "cancel"))


async def pause_run(cmd: PauseRun, uow: Any, supervisor: Supervisor) -> None:
    store = RunStore(uow)
    row = await store.lock(cmd.run_id)
    if row is None or not can_transition(RunStatus(row.status), RunStatus.PAUSED):
        return
    if supervisor.is_running(cmd.run_id):
        await store.update(cmd.run_id, status=RunStatus.PAUSED)
        await store.emit(
            cmd.run_id,
            lambda seq: RunStatusChanged(run_id=cmd.run_id, seq=seq, status=RunStatus.PAUSED, **cmd.caused()),
        )
        uow.after_commit(lambda: supervisor.control(cmd.run_id, "pause"))


async def resume_run(cmd: ResumeRun, uow: Any, supervisor: Supervisor) -> None:
    store = RunStore(uow)
    row = await store.lock(cmd.run_id)
    if row is None or row.status != RunStatus.PAUSED.value:
        return
    await store.update(cmd.run_id, status=RunStatus.RUNNING)
    await store.emit(
        cmd.run_id,
        lambda seq: RunStatusChanged(run_id=cmd.run_id, seq=seq, status=RunStatus.RUNNING, **cmd.caused()),
    )
    uow.after_commit(lambda: supervisor.control(cmd.run_id, "resume"))


async def finish(
    store: RunStore,
    run_id: str,
    status: RunStatus,
    *,
    error: str | None = None,
    traceback: str | None = None,
    outputs: dict[str, Any] | None = None,
    caused: dict[str, str | None] | None = None,
) -> bool:
    """End a run exactly once (the caller holds the row lock); False if it had already ended."""
    row = await store.get(run_id)
    if row is None or RunStatus(row.status).terminal:
        return False
    await store.update(
        run_id,
        status=status,
        error=error,
        traceback=traceback,
        outputs=outputs or {},
        finished_at=datetime.now(UTC),
    )
    metrics.RUNS.labels(status.value).inc()
    tracing = caused or {"correlation_id": run_id}
    await store.emit(
        run_id,
        lambda seq: RunStatusChanged(run_id=run_id, seq=seq, status=status, reason=error, **tracing),
    )
    await store.emit(
        run_id,
        lambda seq: RunFinished(
            run_id=run_id, seq=seq, status=status, error=error, traceback=traceback, outputs=outputs or {}, **tracing
        ),
    )
    return True
