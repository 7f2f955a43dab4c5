"""Runs in Postgres: the aggregate's row, its event log, the journal, inputs and outputs, and the leases.

Every run event goes out through :meth:`SqlRunRepository._emit`: it takes the next per-run ``seq`` values under
the run row's lock, stores the events (the WebSocket replay source) and queues them in the outbox, all in the
caller's transaction, so the stream and the table never disagree and ``seq`` has no gaps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.base import Message
from praxis_contracts.executor import (
    RunControlRequested,
    RunEvent,
    RunFinished,
    RunRecovering,
    RunStarted,
    RunStatusChanged,
    StepCompleted,
)
from praxis_contracts.hardware import BenchDescription
from praxis_contracts.runs import ACTIVE_STATUSES, Assignment, Parked, RunStatus
from praxis_executor.db.tables import run_events, run_inputs, run_outputs, runs, steps
from praxis_executor.domain.run import (
    Change,
    ControlRequested,
    Finished,
    Recovering,
    Recovery,
    Run,
    Started,
    StatusChanged,
)
from praxis_executor.handlers.ports import OwnedRun, RunInputs, Tracing
from praxis_executor.worker.protocol import CallReport, JournalEntry
from praxis_servicekit import metrics
from praxis_servicekit.db import SqlUnitOfWork

INLINE_OUTPUTS_BYTES = 256 * 1024
"""Outputs up to this size travel inside ``RunFinished`` and the run detail; larger ones are fetched by slice."""
ACTIVE = [s.value for s in ACTIVE_STATUSES]


class SqlRunRepository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow
        self.session: AsyncSession = uow.session
        self._outputs: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------------------- the aggregate

    async def get(self, run_id: str) -> Run | None:
        """The run, its row locked until commit. A run that does not exist yet is locked too (an advisory lock on
        its id): two first events of one run (queued and scheduled come through separate consumers) then create
        it one after the other instead of colliding on the primary key."""
        query = sa.select(runs).where(runs.c.id == run_id).with_for_update()
        row = (await self.session.execute(query)).first()
        if row is None:
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(run_id))))
            row = (await self.session.execute(query)).first()
        return None if row is None else _run_of(row)

    async def add(self, run: Run, tracing: Tracing) -> None:
        await self.session.execute(sa.insert(runs).values(id=run.id, **_fields_of(run)))
        await self._publish_changes(run, tracing)

    async def save(self, run: Run, tracing: Tracing) -> None:
        values: dict[str, Any] = {**_fields_of(run), "updated_at": datetime.now(UTC)}
        if run.status.terminal and any(isinstance(c, Finished) for c in run.changes):
            values["finished_at"] = datetime.now(UTC)
        started = next((c for c in run.changes if isinstance(c, Started)), None)
        if started is not None:
            values.update(started_at=datetime.now(UTC), worker_pid=started.worker_pid)
        await self.session.execute(sa.update(runs).where(runs.c.id == run.id).values(**values))
        await self._publish_changes(run, tracing)

    async def _publish_changes(self, run: Run, tracing: Tracing) -> None:
        changes, run.changes = run.changes, []
        if not changes:
            return
        makers = [self._event_maker(run, change, tracing) for change in changes]
        await self._emit(run.id, makers)
        for change in changes:
            if isinstance(change, Finished):
                metrics.RUNS.labels(change.status.value).inc()

    def _event_maker(self, run: Run, change: Change, tracing: Tracing) -> Callable[[int], RunEvent]:
        rid = run.id
        if isinstance(change, StatusChanged):
            return lambda seq: RunStatusChanged(
                run_id=rid, seq=seq, status=change.status, reason=change.reason, parked=change.parked, **tracing
            )
        if isinstance(change, Started):
            assignment = run.assignment or Assignment()
            return lambda seq: RunStarted(
                run_id=rid, seq=seq, assignment=assignment, worker_pid=change.worker_pid, **tracing
            )
        if isinstance(change, Finished):
            outputs = self._outputs.get(rid, {}) if run.outputs_size <= INLINE_OUTPUTS_BYTES else {}
            inline = run.outputs_size <= INLINE_OUTPUTS_BYTES
            return lambda seq: RunFinished(
                run_id=rid,
                seq=seq,
                status=change.status,
                error=change.error,
                traceback=change.traceback,
                outputs=outputs,
                outputs_size=run.outputs_size,
                outputs_inline=inline,
                **tracing,
            )
        if isinstance(change, ControlRequested):
            return lambda seq: RunControlRequested(
                run_id=rid,
                seq=seq,
                action=change.action,
                requested_by=change.requested_by,
                owner=change.owner,
                detail=change.detail,
                **tracing,
            )
        assert isinstance(change, Recovering)
        return lambda seq: RunRecovering(
            run_id=rid,
            seq=seq,
            owner=change.owner,
            epoch=change.epoch,
            journaled_steps=change.journaled_steps,
            reason=change.reason,
            **tracing,
        )

    async def _emit(self, run_id: str, makers: Sequence[Callable[[int], RunEvent]]) -> list[RunEvent]:
        """Allocate ``len(makers)`` consecutive seqs (the UPDATE locks the row), store and publish the events."""
        last = (
            await self.session.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(last_seq=runs.c.last_seq + len(makers))
                .returning(runs.c.last_seq)
            )
        ).scalar_one()
        events = [make(seq) for make, seq in zip(makers, range(last - len(makers) + 1, last + 1), strict=True)]
        await self.session.execute(
            sa.insert(run_events),
            [
                {
                    "run_id": run_id,
                    "seq": e.seq,
                    "type": type(e).__name__,
                    "event": e.model_dump(mode="json"),
                    "occurred_at": e.occurred_at,
                }
                for e in events
            ],
        )
        for event in events:
            self.uow.publish(event)
        return events

    # ------------------------------------------------------------------------------------------- journal

    async def record_calls(self, run: Run, calls: Sequence[CallReport], tracing: Tracing) -> int:
        rows = [
            {
                "run_id": run.id,
                "step": c.sequence,
                "seq": 0,
                "bench_id": c.bench_id,
                "machine": c.machine,
                "method": c.method,
                "args": c.args,
                "result": c.result,
                "error": c.error_text,
                "error_type": c.error_type,
                "error_message": c.error,
                "duration_ms": c.duration_ms,
                "state_diff": c.state_diff,
                "replayed": c.replayed,
            }
            for c in calls
        ]
        stmt = insert(steps).values(rows).on_conflict_do_nothing().returning(steps.c.step)
        new = {int(step) for step in (await self.session.execute(stmt)).scalars()}
        fresh = [c for c in calls if c.sequence in new]
        if not fresh:
            return 0
        events = await self._emit(run.id, [_step_maker(run.id, c, tracing) for c in fresh])
        await self.session.execute(
            sa.update(steps)
            .where(steps.c.run_id == run.id, steps.c.step == sa.bindparam("b_step"))
            .values(seq=sa.bindparam("b_seq")),
            [{"b_step": e.step, "b_seq": e.seq} for e in events if isinstance(e, StepCompleted)],
        )
        return len(fresh)

    async def journal(self, run_id: str) -> list[JournalEntry]:
        rows = await self.session.execute(
            sa.select(
                steps.c.step,
                steps.c.bench_id,
                steps.c.machine,
                steps.c.method,
                steps.c.args,
                steps.c.result,
                steps.c.error_type,
                steps.c.error_message,
                steps.c.error,
            )
            .where(steps.c.run_id == run_id)
            .order_by(steps.c.step)
        )
        return [
            JournalEntry(
                sequence=r.step,
                bench_id=r.bench_id,
                machine=r.machine,
                method=r.method,
                args=r.args,
                ok=r.error is None,
                result=r.result,
                error_type=r.error_type,
                error=r.error_message,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------------------------------- inputs, outputs

    async def save_outputs(self, run_id: str, outputs: dict[str, Any]) -> int:
        data = json.dumps(outputs, allow_nan=False)
        size = len(data.encode())
        self._outputs[run_id] = outputs
        stmt = insert(run_outputs).values(run_id=run_id, data=data, size=size)
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=["run_id"], set_={"data": data, "size": size})
        )
        return size

    async def inputs(self, run_id: str) -> RunInputs | None:
        row = (await self.session.execute(sa.select(run_inputs).where(run_inputs.c.run_id == run_id))).first()
        if row is None:
            return None
        benches = {b: BenchDescription.model_validate(d) for b, d in row.benches.items()}
        return RunInputs(benches=benches, filename=row.filename)

    async def save_inputs(self, run_id: str, inputs: RunInputs) -> None:
        benches = {b: d.model_dump(mode="json") for b, d in inputs.benches.items()}
        stmt = insert(run_inputs).values(run_id=run_id, filename=inputs.filename, benches=benches)
        await self.session.execute(stmt.on_conflict_do_nothing())


class SqlLeases:
    """Leases on the run rows; Postgres's clock decides expiry, so replicas' clocks need not agree."""

    def __init__(self, session: AsyncSession, ttl_s: float) -> None:
        self.session = session
        self.ttl = sa.func.make_interval(0, 0, 0, 0, 0, 0, ttl_s)

    async def claim(self, run_id: str, owner: str) -> None:
        await self.session.execute(
            sa.update(runs).where(runs.c.id == run_id).values(owner=owner, lease_expires_at=sa.func.now() + self.ttl)
        )

    async def renew(self, owner: str) -> list[OwnedRun]:
        result = await self.session.execute(
            sa.update(runs)
            .where(runs.c.owner == owner, runs.c.status.in_(ACTIVE))
            .values(lease_expires_at=sa.func.now() + self.ttl)
            .returning(runs.c.id, runs.c.status, runs.c.cancel_requested, runs.c.pause_requested, runs.c.worker_epoch)
        )
        return [
            OwnedRun(r.id, RunStatus(r.status), r.cancel_requested, r.pause_requested, r.worker_epoch) for r in result
        ]

    async def take_over(self, owner: str, limit: int) -> list[str]:
        claimable = (
            sa.select(runs.c.id)
            .where(
                runs.c.status.in_(ACTIVE),
                sa.or_(runs.c.owner.is_(None), runs.c.lease_expires_at < sa.func.now()),
            )
            .order_by(runs.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.session.execute(
            sa.update(runs)
            .where(runs.c.id.in_(claimable))
            .values(owner=owner, lease_expires_at=sa.func.now() + self.ttl)
            .returning(runs.c.id)
        )
        return [str(r) for r in result.scalars()]

    async def release_all(self, owner: str) -> int:
        result = await self.session.execute(
            sa.update(runs)
            .where(runs.c.owner == owner, runs.c.status.in_(ACTIVE))
            .values(owner=None, lease_expires_at=None)
            .returning(runs.c.id)
        )
        return len(result.all())


class ExecutorUnitOfWork:
    """The handlers' unit of work: servicekit's transaction (outbox, inbox, after-commit hooks) plus the
    executor's repositories bound to it."""

    def __init__(self, inner: SqlUnitOfWork, *, lease_ttl_s: float) -> None:
        self.inner = inner
        self.runs = SqlRunRepository(inner)
        self.leases = SqlLeases(inner.session, lease_ttl_s)

    def after_commit(self, callback: Callable[[], Any]) -> None:
        self.inner.after_commit(callback)

    def publish(self, message: Message) -> None:
        self.inner.publish(message)

    async def commit(self) -> None:
        await self.inner.commit()


def _fields_of(run: Run) -> dict[str, Any]:
    return {
        "protocol_id": run.protocol_id,
        "protocol_name": run.protocol_name,
        "source_hash": run.source_hash,
        "function": run.function,
        "parameters": run.parameters,
        "simulate": run.simulate,
        "submitted_by": run.submitted_by,
        "submitted_role": run.submitted_role,
        "status": run.status.value,
        "reason": run.reason,
        "assignment": run.assignment.model_dump(mode="json") if run.assignment else None,
        "error": run.error,
        "traceback": run.traceback,
        "last_step": run.last_step,
        "cancel_requested": run.cancel_requested,
        "pause_requested": run.pause_requested,
        "parked": run.parked.model_dump(mode="json") if run.parked else None,
        "recovery": {"step": run.recovery.step, "choice": run.recovery.choice} if run.recovery else None,
        "owner": run.owner,
        "worker_epoch": run.worker_epoch,
        "crashes": run.crashes,
        "crash_step": run.crash_step,
        "outputs_size": run.outputs_size,
    }


def _run_of(row: sa.Row[Any]) -> Run:
    return Run(
        id=row.id,
        status=RunStatus(row.status),
        protocol_id=row.protocol_id,
        protocol_name=row.protocol_name,
        source_hash=row.source_hash,
        function=row.function,
        parameters=row.parameters,
        simulate=row.simulate,
        submitted_by=row.submitted_by,
        submitted_role=row.submitted_role,
        assignment=Assignment.model_validate(row.assignment) if row.assignment else None,
        reason=row.reason,
        error=row.error,
        traceback=row.traceback,
        last_step=row.last_step,
        cancel_requested=row.cancel_requested,
        pause_requested=row.pause_requested,
        parked=Parked.model_validate(row.parked) if row.parked else None,
        recovery=Recovery(row.recovery["step"], row.recovery["choice"]) if row.recovery else None,
        owner=row.owner,
        worker_epoch=row.worker_epoch,
        crashes=row.crashes,
        crash_step=row.crash_step,
        outputs_size=row.outputs_size,
    )


def _step_maker(run_id: str, c: CallReport, tracing: Tracing) -> Callable[[int], RunEvent]:
    return lambda seq: StepCompleted(
        run_id=run_id,
        seq=seq,
        step=c.sequence,
        bench_id=c.bench_id,
        machine=c.machine,
        method=c.method,
        args=c.args,
        result=c.result,
        error=c.error_text,
        duration_ms=c.duration_ms,
        state_diff=c.state_diff,
        replayed=c.replayed,
        **tracing,
    )
