"""The read side: run detail with one page of its journal, run lists, pages of a run's event log, and outputs
by slice. Plain SQL returning contract replies; nothing here changes a run."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from praxis_contracts.base import ErrorReply, Reply
from praxis_contracts.executor import (
    GetRun,
    GetRunEvents,
    GetRunOutputs,
    ListRuns,
    RunDetail,
    RunEventEnvelope,
    RunEventPage,
    RunList,
    RunOutputsChunk,
    RunSummary,
    StepCompleted,
)
from praxis_contracts.runs import Assignment, Parked, RunStatus
from praxis_executor.adapters.repository import INLINE_OUTPUTS_BYTES
from praxis_executor.db.tables import run_events, run_outputs, runs, steps
from praxis_servicekit.db import SqlUnitOfWork

MAX_PAGE = 1000
MAX_OUTPUT_SLICE = 2_000_000


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _not_found(run_id: str) -> ErrorReply:
    return ErrorReply(code="not_found", detail=f"no run {run_id}")


async def get_run(q: GetRun, uow: SqlUnitOfWork) -> Reply:
    session = uow.session
    row = (await session.execute(sa.select(runs).where(runs.c.id == q.run_id))).first()
    if row is None:
        return _not_found(q.run_id)
    limit = min(max(q.steps_limit, 0), MAX_PAGE)
    page = await session.execute(
        sa.select(steps)
        .where(steps.c.run_id == q.run_id, steps.c.step > q.steps_after)
        .order_by(steps.c.step)
        .limit(limit)
    )
    total = (await session.execute(sa.select(sa.func.count()).where(steps.c.run_id == q.run_id))).scalar_one()
    inline = row.outputs_size <= INLINE_OUTPUTS_BYTES
    outputs: dict[str, Any] = {}
    if inline and row.outputs_size:
        data = (await session.execute(sa.select(run_outputs.c.data).where(run_outputs.c.run_id == q.run_id))).scalar()
        outputs = _loads(data)
    return RunDetail(
        id=row.id,
        protocol_id=row.protocol_id,
        protocol_name=row.protocol_name,
        status=RunStatus(row.status),
        parameters=row.parameters,
        simulate=row.simulate,
        assignment=Assignment.model_validate(row.assignment) if row.assignment else None,
        steps=[_step(s) for s in page],
        error=row.error,
        traceback=row.traceback,
        reason=row.reason,
        outputs=outputs,
        created_at=_iso(row.created_at),
        updated_at=_iso(row.updated_at),
        parked=Parked.model_validate(row.parked) if row.parked else None,
        owner=row.owner,
        cancel_requested=row.cancel_requested,
        pause_requested=row.pause_requested,
        steps_total=total,
        outputs_size=row.outputs_size,
        outputs_inline=inline,
        correlation_id=row.id,
    )


def _loads(data: str | None) -> dict[str, Any]:
    value = json.loads(data or "{}")
    return value if isinstance(value, dict) else {"result": value}


def _step(s: sa.Row[Any]) -> StepCompleted:
    return StepCompleted(
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
        replayed=s.replayed,
        occurred_at=s.recorded_at,
    )


async def list_runs(q: ListRuns, uow: SqlUnitOfWork) -> Reply:
    query = sa.select(runs).order_by(runs.c.created_at.desc()).limit(min(max(q.limit, 1), MAX_PAGE))
    if q.status is not None:
        query = query.where(runs.c.status == q.status.value)
    rows = (await uow.session.execute(query)).all()
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


async def get_run_events(q: GetRunEvents, uow: SqlUnitOfWork) -> Reply:
    session = uow.session
    last_seq = (await session.execute(sa.select(runs.c.last_seq).where(runs.c.id == q.run_id))).scalar()
    if last_seq is None:
        return _not_found(q.run_id)
    rows = await session.execute(
        sa.select(run_events)
        .where(run_events.c.run_id == q.run_id, run_events.c.seq > q.after)
        .order_by(run_events.c.seq)
        .limit(min(max(q.limit, 1), MAX_PAGE))
    )
    return RunEventPage(
        run_id=q.run_id,
        events=[RunEventEnvelope(seq=r.seq, type=r.type, event=r.event) for r in rows],
        last_seq=last_seq,
    )


async def get_run_outputs(q: GetRunOutputs, uow: SqlUnitOfWork) -> Reply:
    """A slice of the outputs' JSON text (characters ``offset`` .. ``offset + limit``); ``total`` says when to stop."""
    session = uow.session
    exists = (await session.execute(sa.select(runs.c.id).where(runs.c.id == q.run_id))).scalar()
    if exists is None:
        return _not_found(q.run_id)
    offset, limit = max(q.offset, 0), min(max(q.limit, 1), MAX_OUTPUT_SLICE)
    row = (
        await session.execute(
            sa.select(
                sa.func.substr(run_outputs.c.data, offset + 1, limit).label("data"),
                sa.func.char_length(run_outputs.c.data).label("total"),
            ).where(run_outputs.c.run_id == q.run_id)
        )
    ).first()
    if row is None:
        return RunOutputsChunk(run_id=q.run_id, offset=offset, data="{}" if offset == 0 else "", total=2)
    return RunOutputsChunk(run_id=q.run_id, offset=offset, data=row.data, total=row.total)
