"""Read side: run detail with its journal, run lists, and pages of a run's event log."""

from __future__ import annotations

from typing import Any

from praxis_contracts.base import ErrorReply, Reply
from praxis_contracts.executor import (
    GetRun,
    GetRunEvents,
    ListRuns,
    RunDetail,
    RunEventEnvelope,
    RunEventPage,
    RunList,
    RunSummary,
    StepCompleted,
)
from praxis_contracts.runs import Assignment, RunStatus
from praxis_executor.adapters.run_store import RunStore


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def get_run(q: GetRun, uow: Any) -> Reply:
    store = RunStore(uow)
    row = await store.get(q.run_id)
    if row is None:
        return ErrorReply(code="not_found", detail=f"no run {q.run_id}")
    steps = [
        StepCompleted(
            run_id=s.run_id,
            seq=s.seq,
            step=s.step,
            bench_id=s.bench_id,
            machine=s.machine,
            method=s.method,
            args=s.args,
            result=s.result,
            error=s.error,
            duration_ms=s.duration_ms,
            state_diff=s.state_diff,
            occurred_at=s.recorded_at,
        )
        for s in await store.steps_of(q.run_id)
    ]
    return RunDetail(
        id=row.id,
        protocol_id=row.protocol_id,
        protocol_name=row.protocol_name,
        status=RunStatus(row.status),
        parameters=row.parameters,
        simulate=row.simulate,
        assignment=Assignment.model_validate(row.assignment) if row.assignment else None,
        steps=steps,
        error=row.error,
        traceback=row.traceback,
        reason=row.reason,
        outputs=row.outputs,
        created_at=_iso(row.created_at),
        updated_at=_iso(row.updated_at),
        correlation_id=row.id,
    )


async def list_runs(q: ListRuns, uow: Any) -> Reply:
    rows = await RunStore(uow).list(q.status, min(max(q.limit, 1), 1000))
    return RunList(
        runs=[
            RunSummary(
                id=r.id,
                protocol_id=r.protocol_id,
                protocol_name=r.protocol_name,
                status=RunStatus(r.status),
                created_at=_iso(r.created_at),
                updated_at=_iso(r.updated_at),
            )
            for r in rows
        ]
    )


async def get_run_events(q: GetRunEvents, uow: Any) -> Reply:
    store = RunStore(uow)
    run = await store.get(q.run_id)
    if run is None:
        return ErrorReply(code="not_found", detail=f"no run {q.run_id}")
    rows = await store.events_after(q.run_id, q.after, min(max(q.limit, 1), 1000))
    return RunEventPage(
        run_id=q.run_id,
        events=[RunEventEnvelope(seq=r.seq, type=r.type, event=r.event) for r in rows],
        last_seq=run.last_seq,
    )
