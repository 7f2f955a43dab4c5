"""The scheduler's picture of the benches: which assets exist, where, of what type, and whether usable now.

Asset ids are hierarchical: ``bench``, ``bench/machine``, ``bench/machine/resource``. A reservation of an
asset also covers everything below it (a booked machine's deck is booked with it), which is what lets the
per-asset exclusion constraint guard the hierarchy too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from praxis_contracts.hardware import BenchAnnounced

AssetKind = Literal["bench", "machine", "resource"]

# Machine statuses a hardware agent reports when a machine cannot take work. Anything else ("idle", "busy",
# "running", ...) counts as usable: the reservation, not the live status, decides who may use it.
UNAVAILABLE_STATUSES = frozenset({"offline", "disconnected", "error", "failed", "fault", "maintenance"})


def machine_asset_id(bench_id: str, machine: str) -> str:
    return f"{bench_id}/{machine}"


def resource_asset_id(bench_id: str, machine: str, resource: str) -> str:
    return f"{bench_id}/{machine}/{resource}"


@dataclass(frozen=True)
class Asset:
    """A bench, a machine or a resource, as last announced. ``status`` of a resource is its machine's."""

    asset_id: str
    kind: AssetKind
    bench_id: str
    machine: str | None = None
    resource: str | None = None
    plr_type: str = ""
    type_chain: tuple[str, ...] = ()
    category: str | None = None
    simulated: bool = True
    capabilities: frozenset[str] = frozenset()
    status: str = "idle"

    @property
    def machine_id(self) -> str | None:
        """The machine asset this asset belongs to (itself for a machine, None for a bench)."""
        if self.machine is None:
            return None
        return machine_asset_id(self.bench_id, self.machine)

    @property
    def types(self) -> frozenset[str]:
        return frozenset((self.plr_type, *self.type_chain)) - {""}

    @property
    def usable_status(self) -> bool:
        return self.status.lower() not in UNAVAILABLE_STATUSES


@dataclass(frozen=True)
class Bench:
    bench_id: str
    simulated: bool
    last_seen_at: datetime
    heartbeat_interval_s: float
    offline_at: datetime | None = None

    def online(self, now: datetime, grace_factor: float) -> bool:
        """Online = not announced offline since last seen, and seen within ``grace_factor`` intervals."""
        if self.offline_at is not None and self.offline_at >= self.last_seen_at:
            return False
        return now - self.last_seen_at <= timedelta(seconds=self.heartbeat_interval_s * grace_factor)


@dataclass(frozen=True)
class Inventory:
    """A snapshot of benches and present assets, plus which benches are online at ``now``."""

    benches: Mapping[str, Bench]
    assets: Mapping[str, Asset]
    online: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(cls, benches: Iterable[Bench], assets: Iterable[Asset], now: datetime, grace_factor: float) -> Inventory:
        bench_map = {b.bench_id: b for b in benches}
        online = frozenset(b.bench_id for b in bench_map.values() if b.online(now, grace_factor))
        return cls(bench_map, {a.asset_id: a for a in assets}, online)

    def covered(self, asset_id: str) -> frozenset[str]:
        """The asset and every present asset below it: what a reservation of it actually holds."""
        prefix = asset_id + "/"
        return frozenset(a for a in self.assets if a == asset_id or a.startswith(prefix))

    def machine_of(self, asset: Asset) -> Asset | None:
        machine_id = asset.machine_id
        return self.assets.get(machine_id) if machine_id else None

    def is_online(self, asset: Asset) -> bool:
        return asset.bench_id in self.online


def announced_assets(event: BenchAnnounced) -> list[Asset]:
    """The bench, each machine and each resource on a machine's deck. A resource is as simulated as its
    machine and shares its status."""
    bench = event.bench_id
    found = [Asset(bench, "bench", bench, simulated=event.simulated)]
    for m in event.machines:
        found.append(
            Asset(
                machine_asset_id(bench, m.name),
                "machine",
                bench,
                machine=m.name,
                plr_type=m.frontend,
                type_chain=tuple(m.frontend_chain),
                category=m.category,
                simulated=m.simulated,
                capabilities=frozenset(m.capabilities),
                status=m.status,
            )
        )
        found += [
            Asset(
                resource_asset_id(bench, m.name, r.name),
                "resource",
                bench,
                machine=m.name,
                resource=r.name,
                plr_type=r.plr_type,
                type_chain=tuple(r.type_chain),
                category=r.kind,
                simulated=m.simulated,
                status=m.status,
            )
            for r in m.resources
        ]
    return found
