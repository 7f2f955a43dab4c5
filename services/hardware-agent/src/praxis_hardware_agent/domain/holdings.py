"""Which run holds which machine of this bench: the rules that turn the scheduler's facts into ``holds``.

A run may act on a machine only while the scheduler has it reserved for that run. The agent learns this from
four events (``RunScheduled`` holds, ``ReservationReleased``/``LeaseExpired``/``RunFinished`` release) and, at
start-up, after a reconnect and now and then, from the scheduler's list of current reservations (a *snapshot*).
A run holding a resource on a machine's deck holds that machine too (its calls go to the machine); a run holding
the bench itself holds every machine on it.

Two facts make the merging simple and safe:

- **A release is final.** The scheduler never gives a run back an asset it released, and a finished (or
  lease-expired) run is never placed again. So releases are kept as tombstones, and neither a late event nor a
  snapshot taken before the release can bring the holding back.
- **A snapshot is older than the events that arrive while it is asked for.** The live events are subscribed to
  *before* the snapshot is asked for; :meth:`Holdings.begin_sync` hands out a mark, and a holding learned from an
  event after the mark survives a snapshot that does not list it yet. A holding from before the mark that the
  snapshot does not list was released while nobody told us (a message lost during a disconnect): it goes.

Pure: no I/O and no clock; times come in with the facts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from praxis_contracts.base import Message
from praxis_contracts.executor import RunFinished
from praxis_contracts.scheduler import LeaseExpired, ReservationInfo, ReservationReleased, RunScheduled

WHOLE_BENCH = "*"
"""The 'machine' of a reservation of the bench itself: it covers every machine."""

K = TypeVar("K")
V = TypeVar("V")


class HoldingsCheck(Protocol):
    """What the runtime asks before a run may act (answered from :class:`Holdings`, plus a scheduler lookup)."""

    async def refusal(self, run_id: str, machines: Collection[str]) -> str | None:
        """None when ``run_id`` holds every machine in ``machines`` (an empty collection: anything on this bench);
        otherwise why not, in words naming the run, the machine and the reason."""
        ...


@dataclass(frozen=True)
class Released:
    """When and why a holding ended (kept so a refusal can say it)."""

    at: datetime
    reason: str

    def describe(self) -> str:
        return f"released at {self.at.isoformat(timespec='seconds')} ({self.reason})"


@dataclass(frozen=True)
class Verdict:
    """``held``; else ``reason`` says why not, and ``unknown`` says the agent has never heard of the run (so it
    should ask the scheduler before refusing: the run may have been placed a moment ago)."""

    held: bool
    reason: str = ""
    unknown: bool = False


HELD = Verdict(held=True)


class Holdings:
    """The current holdings of one bench's machines, with tombstones of what was released (bounded)."""

    def __init__(self, bench_id: str, *, capacity: int = 10_000) -> None:
        self.bench_id = bench_id
        self.capacity = capacity
        self._held: dict[str, dict[str, int]] = {}  # run -> asset id -> generation it was learned in
        self._runs_gone: OrderedDict[str, Released] = OrderedDict()
        self._assets_gone: OrderedDict[str, dict[str, Released]] = OrderedDict()  # run -> asset id -> release
        self._absent: OrderedDict[str, datetime] = OrderedDict()  # runs the scheduler had nothing for
        self._generation = 0
        self.synced_at: datetime | None = None

    # ------------------------------------------------------------------------------------------ facts

    def apply(self, event: Message) -> None:
        """Apply one of the four events; any other type is a wiring error and says so."""
        if isinstance(event, RunScheduled):
            self.scheduled(event)
        elif isinstance(event, ReservationReleased):
            self.released(event)
        elif isinstance(event, LeaseExpired):
            self.lease_expired(event)
        elif isinstance(event, RunFinished):
            self.finished(event)
        else:
            raise TypeError(f"holdings are not changed by {type(event).__name__}")

    def scheduled(self, event: RunScheduled) -> None:
        for asset in event.assignment.assets:
            if asset.bench_id != self.bench_id:
                continue
            asset_id = asset.asset_id or "/".join(p for p in (asset.bench_id, asset.machine, asset.resource) if p)
            self._hold(event.run_id, asset_id, self._generation)

    def released(self, event: ReservationReleased) -> None:
        """A user's booking (no run) changes no run's holdings."""
        if event.run_id is not None and self.machine_of(event.asset_id) is not None:
            self._release(event.run_id, event.asset_id, Released(event.occurred_at, event.reason))

    def lease_expired(self, event: LeaseExpired) -> None:
        self._end_run(event.run_id, Released(event.expired_at, "its lease expired"))

    def finished(self, event: RunFinished) -> None:
        self._end_run(event.run_id, Released(event.occurred_at, f"run {event.status.value}"))

    # ------------------------------------------------------------------------------------------ snapshots

    def begin_sync(self) -> int:
        """Call just before asking the scheduler for its reservations; pass the mark to :meth:`apply_snapshot`."""
        self._generation += 1
        return self._generation

    def apply_snapshot(self, reservations: Iterable[ReservationInfo], mark: int, at: datetime) -> None:
        """Merge the scheduler's current reservations (asked for after ``mark``): hold what it lists, drop what
        it no longer lists unless an event newer than the mark taught it."""
        listed = {
            (r.owner, r.asset_id)
            for r in reservations
            if r.owner_kind == "run" and r.released_at is None and self.machine_of(r.asset_id) is not None
        }
        for run_id, assets in list(self._held.items()):
            for asset_id, generation in list(assets.items()):
                if generation < mark and (run_id, asset_id) not in listed:
                    self._release(run_id, asset_id, Released(at, "no longer among the scheduler's reservations"))
        for run_id, asset_id in sorted(listed):
            self._hold(run_id, asset_id, mark - 1)
        self.synced_at = at

    def mark_absent(self, run_id: str, at: datetime) -> None:
        """The scheduler, asked at ``at``, listed nothing of ``run_id`` on this bench."""
        if run_id not in self._held:
            _bounded_put(self._absent, run_id, at, self.capacity)

    # ------------------------------------------------------------------------------------------ questions

    def holds(self, run_id: str, machine: str) -> bool:
        return self.verdict(run_id, [machine]).held

    def verdict(self, run_id: str, machines: Collection[str]) -> Verdict:
        """Does ``run_id`` hold every machine in ``machines`` (none named: anything on this bench)?"""
        held = {self.machine_of(a) for a in self._held.get(run_id, {})}
        if not machines:
            return HELD if held else self._why_not(run_id, None)
        for machine in sorted(set(machines)):
            if machine not in held and WHOLE_BENCH not in held:
                return self._why_not(run_id, machine)
        return HELD

    def held_by(self, run_id: str) -> list[str]:
        """The asset ids ``run_id`` holds on this bench."""
        return sorted(self._held.get(run_id, {}))

    def run_count(self) -> int:
        return len(self._held)

    def machine_of(self, asset_id: str) -> str | None:
        """The machine an asset id of this bench belongs to (``*`` for the bench itself); None for another bench."""
        parts = asset_id.split("/", 2)
        if parts[0] != self.bench_id:
            return None
        return parts[1] if len(parts) > 1 and parts[1] else WHOLE_BENCH

    # ------------------------------------------------------------------------------------------ internals

    def _hold(self, run_id: str, asset_id: str, generation: int) -> None:
        if run_id in self._runs_gone or asset_id in self._assets_gone.get(run_id, {}):
            return  # releases are final: a late event or an older snapshot cannot bring the holding back
        assets = self._held.setdefault(run_id, {})
        assets[asset_id] = max(generation, assets.get(asset_id, generation))
        self._absent.pop(run_id, None)

    def _release(self, run_id: str, asset_id: str, released: Released) -> None:
        assets = self._held.get(run_id)
        if assets is not None:
            assets.pop(asset_id, None)
            if not assets:
                del self._held[run_id]
        gone = self._assets_gone.get(run_id) or {}
        gone[asset_id] = released
        _bounded_put(self._assets_gone, run_id, gone, self.capacity)

    def _end_run(self, run_id: str, released: Released) -> None:
        for asset_id in list(self._held.get(run_id, {})):
            self._release(run_id, asset_id, released)
        _bounded_put(self._runs_gone, run_id, released, self.capacity)
        self._absent.pop(run_id, None)

    def _why_not(self, run_id: str, machine: str | None) -> Verdict:
        target = f"{self.bench_id}/{machine}" if machine else f"anything on bench {self.bench_id}"
        prefix = f"run {run_id} holds no reservation of {target}"
        ended = self._runs_gone.get(run_id)
        if ended is not None:
            return Verdict(False, f"{prefix}: its reservations were {ended.describe()}")
        release = self._release_of(run_id, machine)
        if release is not None:
            return Verdict(False, f"{prefix}: it was {release.describe()}")
        if run_id in self._held:
            return Verdict(False, f"{prefix} (it holds {', '.join(self.held_by(run_id))})")
        absent = self._absent.get(run_id)
        if absent is not None:
            when = absent.isoformat(timespec="seconds")
            return Verdict(False, f"{prefix}: the scheduler lists none for it on this bench (asked at {when})")
        return Verdict(False, f"{prefix}: this agent has never heard of the run", unknown=True)

    def _release_of(self, run_id: str, machine: str | None) -> Released | None:
        found = [
            r
            for asset_id, r in self._assets_gone.get(run_id, {}).items()
            if machine is None or self.machine_of(asset_id) in (machine, WHOLE_BENCH)
        ]
        return max(found, key=lambda r: r.at) if found else None


def _bounded_put(table: OrderedDict[K, V], key: K, value: V, capacity: int) -> None:
    """Insert or refresh ``key`` as the newest entry; the oldest go beyond ``capacity`` (forgetting a tombstone
    only means that run is asked about again, and the scheduler has no reservation of it either)."""
    table[key] = value
    table.move_to_end(key)
    while len(table) > capacity:
        table.popitem(last=False)
