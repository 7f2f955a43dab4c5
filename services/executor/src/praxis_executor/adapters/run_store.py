"""SQL access to runs, their event log and journal, always inside the caller's unit of work.

Every run event goes through :meth:`RunStore.emit`: it takes the next per-run ``seq`` under the run row's lock,
stores the event (the WebSocket replay source) and queues it in the outbox, all in one transaction, so the
stream and the table never disagree and ``seq`` has no gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.executor import RunEvent, StepCompleted
from praxis_contracts.runs import RunStatus
from praxis_executor.db.tables import run_events, runs, steps

E = TypeVar("E", bound=RunEvent)


class RunStore:
    def __init__(self, uow: Any) -> None:
        self.uow = uow
        self.session: AsyncSession = uow.session

    async def lock(self, run_id: str) -> sa.Row[Any] | None:
        return (await self.session.execute(sa.select(runs).where(runs.c.id == run_id).with_for_update())).first()

    async def get(self, run_id: str) -> sa.Row[Any] | None:
        return (await self.session.execute(sa.select(runs).where(runs.c.id == run_id))).first()

    async def create(self, run_id: str, status: RunStatus, **fields: Any) -> bool:
        """Insert the run unless it exists (a redelivered or racing first event); True if inserted."""
        stmt = (
            insert(runs)
            .values(id=run_id, status=status.value, **fields)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(runs.c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def update(self, run_id: str, **fields: Any) -> None:
        if "status" in fields and isinstance(fields["status"], RunStatus):
            fields["status"] = fields["status"].value
        await self.session.execute(
            sa.update(runs).where(runs.c.id == run_id).values(updated_at=datetime.now(UTC), **fields)
        )

    async def emit(self, run_id: str, make: Callable[[int], E]) -> E:
        """Allocate the next seq for ``run_id`` (the row is locked by the UPDATE), store and publish the event."""
        seq = (
            await self.session.execute(
                sa.update(runs)
                .where(runs.c.id == run_id)
                .values(last_seq=runs.c.last_seq + 1)
                .returning(runs.c.last_seq)
            )
        ).scalar_one()
        event = make(seq)
        await self.session.execute(
            sa.insert(run_events).values(
                run_id=run_id,
                seq=seq,
                type=type(event).__name__,
                event=event.model_dump(mode="json"),
                occurred_at=event.occurred_at,
            )
        )
        self.uow.publish(event)
        return event

    async def record_step(self, event: StepCompleted) -> None:
        await self.session.execute(
            insert(steps)
            .values(
                run_id=event.run_id,
                step=event.step,
                seq=event.seq,
                bench_id=event.bench_id,
                machine=event.machine,
                method=event.method,
                args=event.args,
                result=event.result,
                error=event.error,
                duration_ms=event.duration_ms,
                state_diff=event.state_diff,
            )
            .on_conflict_do_nothing()
        )
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.id == event.run_id)
            .values(last_step=sa.func.greatest(runs.c.last_step, event.step))
        )

    async def steps_of(self, run_id: str) -> list[sa.Row[Any]]:
        return list(
            (await self.session.execute(sa.select(steps).where(steps.c.run_id == run_id).order_by(steps.c.step))).all()
        )

    async def events_after(self, run_id: str, after: int, limit: int) -> list[sa.Row[Any]]:
        rows = await self.session.execute(
            sa.select(run_events)
            .where(run_events.c.run_id == run_id, run_events.c.seq > after)
            .order_by(run_events.c.seq)
            .limit(limit)
        )
        return list(rows.all())

    async def list(self, status: RunStatus | None, limit: int) -> list[sa.Row[Any]]:
        q = sa.select(runs).order_by(runs.c.created_at.desc()).limit(limit)
        if status is not None:
            q = q.where(runs.c.status == status.value)
        return list((await self.session.execute(q)).all())

    async def with_status(self, statuses: list[RunStatus]) -> list[sa.Row[Any]]:
        q = sa.select(runs).where(runs.c.status.in_([s.value for s in statuses]))
        return list((await self.session.execute(q)).all())
