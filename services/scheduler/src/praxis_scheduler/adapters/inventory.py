"""The bench and asset projection: written from hardware-agent events, read as a domain :class:`Inventory`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from praxis_contracts.hardware import BenchAnnounced, MachineInfo
from praxis_scheduler.db.tables import assets, benches
from praxis_scheduler.domain.inventory import Asset, Bench, Inventory, announced_assets, machine_asset_id


def asset_rows(event: BenchAnnounced) -> list[dict[str, Any]]:
    return [
        {
            "asset_id": a.asset_id,
            "kind": a.kind,
            "bench_id": a.bench_id,
            "machine_asset_id": a.machine_id,
            "machine": a.machine,
            "resource": a.resource,
            "plr_type": a.plr_type,
            "type_chain": list(a.type_chain),
            "category": a.category,
            "simulated": a.simulated,
            "capabilities": sorted(a.capabilities),
            "status": a.status,
            "present": True,
        }
        for a in announced_assets(event)
    ]


async def apply_announcement(session: AsyncSession, event: BenchAnnounced, now: datetime) -> None:
    """Upsert the bench and its assets; assets it no longer announces stay (reservations point at them) but
    are marked absent, so nothing new is placed on them."""
    bench_values = {
        "bench_id": event.bench_id,
        "simulated": event.simulated,
        "host": event.host,
        "agent_version": event.agent_version,
        "machines": [m.model_dump(mode="json") for m in event.machines],
        "last_seen_at": now,
        "offline_at": None,
        "offline_reason": None,
    }
    stmt = insert(benches).values(bench_values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[benches.c.bench_id],
            set_={k: stmt.excluded[k] for k in bench_values if k != "bench_id"},
        )
    )
    rows = asset_rows(event)
    upsert = insert(assets).values(rows)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[assets.c.asset_id],
            set_={k: upsert.excluded[k] for k in rows[0] if k != "asset_id"},
        )
    )
    await session.execute(
        sa.update(assets)
        .where(assets.c.bench_id == event.bench_id, assets.c.asset_id.not_in([r["asset_id"] for r in rows]))
        .values(present=False)
    )


async def get_bench(session: AsyncSession, bench_id: str) -> Bench | None:
    row = (await session.execute(sa.select(benches).where(benches.c.bench_id == bench_id))).first()
    if row is None:
        return None
    m = row._mapping
    return Bench(m["bench_id"], m["simulated"], m["last_seen_at"], m["heartbeat_interval_s"], m["offline_at"])


async def record_heartbeat(session: AsyncSession, bench_id: str, interval_s: float, now: datetime) -> None:
    await session.execute(
        sa.update(benches)
        .where(benches.c.bench_id == bench_id)
        .values(
            last_seen_at=sa.func.greatest(benches.c.last_seen_at, now),
            heartbeat_interval_s=interval_s,
            offline_at=None,
            offline_reason=None,
        )
    )


async def mark_offline(session: AsyncSession, bench_id: str, reason: str, now: datetime) -> None:
    await session.execute(
        sa.update(benches).where(benches.c.bench_id == bench_id).values(offline_at=now, offline_reason=reason)
    )


async def machine_statuses(session: AsyncSession, bench_id: str) -> dict[str, str]:
    """Machine name -> last known status, for the bench's present machines."""
    query = sa.select(assets.c.machine, assets.c.status).where(
        assets.c.bench_id == bench_id, assets.c.kind == "machine", assets.c.present
    )
    return {str(m): str(s) for m, s in (await session.execute(query)).all()}


async def set_machine_status(session: AsyncSession, bench_id: str, machine: str, status: str) -> None:
    """Set a machine's status; the resources on its deck share it."""
    mid = machine_asset_id(bench_id, machine)
    await session.execute(
        sa.update(assets).where(assets.c.machine_asset_id == mid, assets.c.status != status).values(status=status)
    )


async def load_inventory(session: AsyncSession, now: datetime, grace_factor: float) -> Inventory:
    bench_rows = (await session.execute(sa.select(benches))).mappings()
    bench_list = [
        Bench(m["bench_id"], m["simulated"], m["last_seen_at"], m["heartbeat_interval_s"], m["offline_at"])
        for m in bench_rows
    ]
    asset_list = [_asset(m) for m in (await session.execute(sa.select(assets).where(assets.c.present))).mappings()]
    return Inventory.build(bench_list, asset_list, now, grace_factor)


def _asset(m: Any) -> Asset:
    return Asset(
        asset_id=m["asset_id"],
        kind=m["kind"],
        bench_id=m["bench_id"],
        machine=m["machine"],
        resource=m["resource"],
        plr_type=m["plr_type"],
        type_chain=tuple(m["type_chain"]),
        category=m["category"],
        simulated=m["simulated"],
        capabilities=frozenset(m["capabilities"]),
        status=m["status"],
    )


@dataclass(frozen=True)
class BenchRow:
    bench: Bench
    machines: list[MachineInfo]


async def list_benches(session: AsyncSession) -> list[BenchRow]:
    """Benches with their announced machines, each machine's status replaced by the latest known one."""
    query = sa.select(assets.c.asset_id, assets.c.status).where(assets.c.kind == "machine")
    statuses = {str(a): str(s) for a, s in (await session.execute(query)).all()}
    out = []
    for m in (await session.execute(sa.select(benches).order_by(benches.c.bench_id))).mappings():
        bench = Bench(m["bench_id"], m["simulated"], m["last_seen_at"], m["heartbeat_interval_s"], m["offline_at"])
        machines = []
        for raw in m["machines"]:
            info = MachineInfo.model_validate(raw)
            status = statuses.get(machine_asset_id(bench.bench_id, info.name), info.status)
            machines.append(info.model_copy(update={"status": status}))
        out.append(BenchRow(bench, machines))
    return out
