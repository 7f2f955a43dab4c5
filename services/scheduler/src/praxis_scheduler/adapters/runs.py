"""The run table: the queue, placement decisions, and the start/finish times behind duration estimates."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.protocols import AssetRequirement
from praxis_contracts.runs import Assignment
from praxis_contracts.scheduler import SubmitRun
from praxis_scheduler.db.tables import runs
from praxis_scheduler.domain.runs import ACTIVE, LEASE_EXPIRED, QUEUED, REJECTED, SCHEDULED, RunRecord

# One placement pass at a time across every scheduler replica: passes then never race each other for the
# same waiting run or the same assets (a user booking still can, and the booking path handles that).
PLACEMENT_LOCK_KEY = int.from_bytes(hashlib.sha256(b"praxis.scheduler.placement").digest()[:8], "big", signed=True)


async def lock_placement(session: AsyncSession) -> None:
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(PLACEMENT_LOCK_KEY)))


async def insert_submitted(session: AsyncSession, cmd: SubmitRun, now: datetime) -> bool:
    """Persist a submitted run as queued; False when the run id is already known (a resubmission, or a run
    that finished before its submission arrived): the caller must then not queue it again."""
    values = {
        "run_id": cmd.run_id,
        "protocol_id": cmd.protocol_id,
        "protocol_name": cmd.protocol_name,
        "source_hash": cmd.source_hash,
        "function": cmd.function,
        "parameters": cmd.parameters,
        "requirements": [r.model_dump(mode="json") for r in cmd.requirements],
        "pins": cmd.pins,
        "simulate": cmd.simulate,
        "allow_real_hardware": cmd.allow_real_hardware_in_simulation,
        "priority": cmd.priority,
        "submitted_by": cmd.submitted_by,
        "submitted_role": cmd.submitted_role,
        "estimated_duration_s": cmd.estimated_duration_s,
        "correlation_id": cmd.correlation_id or cmd.run_id,
        "status": QUEUED,
        "submitted_at": now,
    }
    stmt = insert(runs).values(values).on_conflict_do_nothing(index_elements=[runs.c.run_id]).returning(runs.c.run_id)
    return (await session.execute(stmt)).first() is not None


def _record(m: Any) -> RunRecord:
    return RunRecord(
        run_id=m["run_id"],
        seq=m["seq"],
        status=m["status"],
        submitted_at=m["submitted_at"],
        protocol_id=m["protocol_id"],
        protocol_name=m["protocol_name"],
        source_hash=m["source_hash"],
        function=m["function"],
        parameters=dict(m["parameters"]),
        requirements=tuple(AssetRequirement.model_validate(r) for r in m["requirements"]),
        pins=dict(m["pins"]),
        simulate=m["simulate"],
        allow_real_hardware=m["allow_real_hardware"],
        priority=m["priority"],
        submitted_by=m["submitted_by"],
        submitted_role=m["submitted_role"],
        estimated_duration_s=m["estimated_duration_s"],
        correlation_id=m["correlation_id"],
        why_waiting=m["why_waiting"],
        scheduled_at=m["scheduled_at"],
        started_at=m["started_at"],
    )


async def get(session: AsyncSession, run_id: str, *, lock: bool = False) -> RunRecord | None:
    query = sa.select(runs).where(runs.c.run_id == run_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return _record(row) if row is not None else None


async def queued(session: AsyncSession, *, lock: bool = False) -> list[RunRecord]:
    """Queued runs in submission order (the caller applies priority and aging)."""
    query = sa.select(runs).where(runs.c.status == QUEUED).order_by(runs.c.seq)
    if lock:
        query = query.with_for_update()
    return [_record(m) for m in (await session.execute(query)).mappings()]


async def active(session: AsyncSession) -> list[RunRecord]:
    query = sa.select(runs).where(runs.c.status.in_(sorted(ACTIVE))).order_by(runs.c.seq)
    return [_record(m) for m in (await session.execute(query)).mappings()]


async def mark_scheduled(session: AsyncSession, run_id: str, assignment: Assignment, now: datetime) -> None:
    await session.execute(
        sa.update(runs)
        .where(runs.c.run_id == run_id)
        .values(
            status=SCHEDULED,
            scheduled_at=now,
            why_waiting=None,
            assignment=assignment.model_dump(mode="json"),
        )
    )


async def mark_rejected(session: AsyncSession, run_id: str, reason: str, now: datetime) -> None:
    await session.execute(
        sa.update(runs).where(runs.c.run_id == run_id).values(status=REJECTED, why_waiting=reason, finished_at=now)
    )


async def set_why_waiting(session: AsyncSession, run_id: str, reason: str) -> None:
    await session.execute(sa.update(runs).where(runs.c.run_id == run_id).values(why_waiting=reason))


async def mark_started(session: AsyncSession, run_id: str, at: datetime) -> None:
    await session.execute(
        sa.update(runs)
        .where(runs.c.run_id == run_id, runs.c.started_at.is_(None))
        .values(started_at=at, status=sa.case((runs.c.status == SCHEDULED, "running"), else_=runs.c.status))
    )


async def mark_final(session: AsyncSession, run_id: str, status: str, at: datetime) -> None:
    """Record a final status. A run the scheduler has not seen yet gets a tombstone row, so its late
    ``SubmitRun`` is recognised and never queued."""
    stmt = insert(runs).values(run_id=run_id, status=status, submitted_at=at, finished_at=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[runs.c.run_id],
            set_={"status": status, "finished_at": sa.func.coalesce(runs.c.finished_at, at)},
        )
    )


async def mark_lease_expired(session: AsyncSession, run_ids: list[str]) -> None:
    await session.execute(
        sa.update(runs)
        .where(runs.c.run_id.in_(run_ids), runs.c.status.in_(sorted(ACTIVE)))
        .values(status=LEASE_EXPIRED)
    )


async def duration_history(session: AsyncSession, protocol_id: str, limit: int) -> list[float]:
    """Durations (s) of the protocol's latest completed runs that have a start and a finish time."""
    seconds = sa.func.extract("epoch", runs.c.finished_at - runs.c.started_at)
    query = (
        sa.select(seconds)
        .where(
            runs.c.protocol_id == protocol_id,
            runs.c.status == "completed",
            runs.c.started_at.is_not(None),
            runs.c.finished_at.is_not(None),
        )
        .order_by(runs.c.finished_at.desc())
        .limit(limit)
    )
    return [float(s) for s in (await session.execute(query)).scalars()]
