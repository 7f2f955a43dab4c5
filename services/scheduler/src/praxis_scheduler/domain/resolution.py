"""Resolve a run's asset requirements to concrete assets, all or nothing, preferably on one bench.

Three outcomes, because a scientist needs to know which one applies:

* :class:`Placed`: every required asset found free (optional ones when possible).
* :class:`Waiting`: every requirement exists in principle, but something is busy, booked, offline or held
  for a run ahead in the queue; the run stays queued and is retried when assets are freed.
* :class:`Impossible`: no combination of announced assets can ever serve the run as asked (no such type,
  wrong simulation mode, missing capability, a pin that does not fit); the run is rejected.

Rules: a pin is authoritative (the pinned asset or a refusal, never a substitute); distinct requirements get
distinct assets; a run's resources sit on a bench that holds one of its machines; a ``many`` requirement gets
one asset in this version. Search order: machines first, then the requirement with fewest candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from praxis_contracts.protocols import AssetRequirement
from praxis_contracts.runs import AssetAssignment
from praxis_scheduler.domain.inventory import Asset, Inventory
from praxis_scheduler.domain.matching import (
    RunRequest,
    label,
    mismatch,
    missing_capabilities,
    simulation_ok,
    type_matches,
)
from praxis_scheduler.domain.reservations import Reservation, blocking, describe_holder, short_id

MAX_LISTED = 3


@dataclass(frozen=True)
class Availability:
    """What keeps assets from being used in ``[start, end)``: active reservations by asset id, and assets held
    for runs ahead in the queue (asset id -> run id)."""

    start: datetime
    end: datetime
    reservations: Mapping[str, list[Reservation]] = field(default_factory=dict)
    held: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placed:
    assets: tuple[AssetAssignment, ...]
    alternatives: tuple[str, ...] = ()
    """For a run whose only asset is one required asset: every free asset that serves it equally well, in id
    order (the chosen one first). The booking may then take whichever no concurrent booker is holding."""

    @property
    def asset_ids(self) -> list[str]:
        return [a.asset_id for a in self.assets]


@dataclass(frozen=True)
class Waiting:
    reason: str
    tentative: tuple[str, ...] = ()
    """Free assets this run would take right now; held back from runs behind it so it cannot starve."""


@dataclass(frozen=True)
class Impossible:
    reason: str


Resolution = Placed | Waiting | Impossible
Choice = dict[str, Asset]


def resolve(run: RunRequest, inventory: Inventory, availability: Availability) -> Resolution:
    names = {r.name for r in run.requirements}
    unknown = sorted(set(run.pins) - names)
    if unknown:
        return Impossible(
            f"pins name {', '.join(repr(u) for u in unknown)}, which this protocol has no asset "
            f"parameter for (asset parameters: {', '.join(sorted(names)) or 'none'})"
        )
    required = [r for r in run.requirements if not r.optional]
    optional = [r for r in run.requirements if r.optional]
    structural: dict[str, list[Asset]] = {}
    for req in required:
        found = structural_candidates(req, run, inventory)
        if isinstance(found, str):
            return Impossible(found)
        structural[req.name] = found
    if _assign(required, structural) is None:
        return Impossible(_explain_structural(required, structural))

    why: dict[str, str | None] = {}
    free: dict[str, list[Asset]] = {}
    for req in required:
        for asset in structural[req.name]:
            why.setdefault(asset.asset_id, _unavailable(asset, run, inventory, availability))
        free[req.name] = [a for a in structural[req.name] if why[a.asset_id] is None]
    choice = _assign(required, free)
    if choice is None:
        return Waiting(_explain_waiting(required, structural, free, why), _tentative(required, free))
    _add_optional(optional, choice, run, inventory, availability)
    ordered = [r for r in run.requirements if r.name in choice]
    placed = tuple(assignment_for(r.name, choice[r.name]) for r in ordered)
    if len(choice) == 1 and len(required) == 1 and len(free[required[0].name]) > 1:
        return Placed(placed, tuple(a.asset_id for a in free[required[0].name]))
    return Placed(placed)


def structural_candidates(req: AssetRequirement, run: RunRequest, inventory: Inventory) -> list[Asset] | str:
    """Assets that could ever serve ``req``, or why none can."""
    pinned = run.pins.get(req.name)
    if pinned is not None:
        asset = inventory.assets.get(pinned)
        if asset is None:
            return f"'{req.name}' is pinned to {pinned}, which no bench has announced"
        problem = mismatch(req, asset, run)
        return f"'{req.name}' is pinned to {pinned}, but {problem}" if problem else [asset]
    assets = sorted(inventory.assets.values(), key=lambda a: a.asset_id)
    typed = [a for a in assets if type_matches(req, a)]
    if not typed:
        return f"no {label(req)} ({req.plr_type or req.category}) on any bench, needed for '{req.name}'"
    sim = [a for a in typed if simulation_ok(a, run)]
    if not sim:
        names = _listed(a.asset_id for a in typed)
        if run.simulate:
            return (
                f"no simulated {label(req)} for '{req.name}': {names} is real hardware "
                "(allow real hardware in simulation to use it)"
            )
        return f"no real {label(req)} for '{req.name}': {names} is simulated, and a real run never uses one"
    fit = [a for a in sim if not missing_capabilities(req, a)]
    if not fit:
        has = "; ".join(f"{a.asset_id} has {', '.join(sorted(a.capabilities)) or 'none'}" for a in sim[:MAX_LISTED])
        return f"no {label(req)} on any bench, needed for '{req.name}' ({has})"
    return fit


def _unavailable(asset: Asset, run: RunRequest, inventory: Inventory, availability: Availability) -> str | None:
    """Why ``asset`` cannot be taken now (offline, faulted, held, reserved), or None when it is free."""
    if not inventory.is_online(asset):
        return f"is on {asset.bench_id}, which is offline"
    machine = asset if asset.kind == "machine" else inventory.machine_of(asset)
    if machine is not None and not machine.usable_status:
        return f"is unavailable: {machine.asset_id} reports status '{machine.status}'"
    covered = inventory.covered(asset.asset_id)
    for asset_id in sorted(covered):
        holder = availability.held.get(asset_id)
        if holder is not None and holder != run.run_id:
            return f"is held for run {short_id(holder)}, which is ahead in the queue"
    found = blocking(availability.reservations, covered, availability.start, availability.end, owner=run.run_id)
    if not found:
        return None
    first = found[0]
    if first.asset_id == asset.asset_id:
        return f"is {describe_holder(first)}"
    return f"is unavailable: {first.asset_id} is {describe_holder(first)}"


def _order(reqs: Sequence[AssetRequirement], cands: Mapping[str, Sequence[Asset]]) -> list[AssetRequirement]:
    return sorted(reqs, key=lambda r: (r.kind != "machine", len(cands[r.name]), r.name))


def _assign(reqs: Sequence[AssetRequirement], cands: Mapping[str, Sequence[Asset]]) -> Choice | None:
    """A distinct asset per requirement: on one bench if any bench can do it, else resources on the benches of
    the run's machines."""
    benches = sorted({a.bench_id for name in cands for a in cands[name]})
    benches.sort(key=lambda b: -sum(any(a.bench_id == b for a in cands[r.name]) for r in reqs))
    for bench in benches:
        local = {name: [a for a in assets if a.bench_id == bench] for name, assets in cands.items()}
        found = _backtrack(_order(reqs, local), local, {})
        if found is not None:
            return found
    return _backtrack(_order(reqs, cands), cands, {})


def _backtrack(reqs: Sequence[AssetRequirement], cands: Mapping[str, Sequence[Asset]], chosen: Choice) -> Choice | None:
    if not reqs:
        return dict(chosen)
    req, rest = reqs[0], reqs[1:]
    used = {a.asset_id for a in chosen.values()}
    machine_benches = {a.bench_id for a in chosen.values() if a.kind == "machine"}
    for asset in cands[req.name]:
        if asset.asset_id in used:
            continue
        if req.kind == "resource" and machine_benches and asset.bench_id not in machine_benches:
            continue
        chosen[req.name] = asset
        found = _backtrack(rest, cands, chosen)
        del chosen[req.name]
        if found is not None:
            return found
    return None


def _greedy(reqs: Sequence[AssetRequirement], cands: Mapping[str, Sequence[Asset]]) -> tuple[Choice, str | None]:
    """First-fit in search order: the partial choice and the first requirement left without an asset."""
    chosen: Choice = {}
    for req in _order(reqs, cands):
        used = {a.asset_id for a in chosen.values()}
        pick = next((a for a in cands[req.name] if a.asset_id not in used), None)
        if pick is None:
            return chosen, req.name
        chosen[req.name] = pick
    return chosen, None


def _explain_structural(reqs: Sequence[AssetRequirement], cands: Mapping[str, Sequence[Asset]]) -> str:
    chosen, stuck = _greedy(reqs, cands)
    if stuck is not None:
        req = next(r for r in reqs if r.name == stuck)
        others = sorted(n for n, a in chosen.items() if a in cands[stuck])
        return (
            f"'{stuck}' needs a {label(req)} of its own, but every matching one "
            f"({_listed(a.asset_id for a in cands[stuck])}) is needed by {', '.join(others)}"
        )
    return (
        "no bench holds all of "
        + ", ".join(f"a {label(r)}" for r in reqs)
        + ": a run's resources must sit on the same bench as its machines"
    )


def _explain_waiting(
    reqs: Sequence[AssetRequirement],
    structural: Mapping[str, Sequence[Asset]],
    free: Mapping[str, Sequence[Asset]],
    why: Mapping[str, str | None],
) -> str:
    chosen, stuck = _greedy(reqs, free)
    if stuck is None:
        return (
            "each requirement has a free asset, but no bench has "
            + ", ".join(f"a {label(r)}" for r in reqs)
            + " free together; waiting for assets to be freed"
        )
    req = next(r for r in reqs if r.name == stuck)
    taken = {a.asset_id: n for n, a in chosen.items()}
    parts = []
    for asset in structural[stuck][:MAX_LISTED]:
        reason = why.get(asset.asset_id) or f"is taken by this run's '{taken.get(asset.asset_id, '?')}'"
        parts.append(f"{asset.asset_id} {reason}")
    more = len(structural[stuck]) - MAX_LISTED
    tail = f" (and {more} more)" if more > 0 else ""
    return f"no free {label(req)} for '{stuck}': " + "; ".join(parts) + tail


def _tentative(reqs: Sequence[AssetRequirement], free: Mapping[str, Sequence[Asset]]) -> tuple[str, ...]:
    """For each requirement that has a free asset, the one it would take (requirements without one skipped)."""
    taken: set[str] = set()
    for req in _order(reqs, free):
        pick = next((a.asset_id for a in free[req.name] if a.asset_id not in taken), None)
        if pick is not None:
            taken.add(pick)
    return tuple(sorted(taken))


def _add_optional(
    optional: Sequence[AssetRequirement],
    choice: Choice,
    run: RunRequest,
    inventory: Inventory,
    availability: Availability,
) -> None:
    """Best effort: an optional requirement gets a free asset on the run's benches, else elsewhere, else none."""
    for req in optional:
        found = structural_candidates(req, run, inventory)
        if isinstance(found, str):
            continue
        used = {a.asset_id for a in choice.values()}
        benches = {a.bench_id for a in choice.values()}
        fits = [a for a in found if a.asset_id not in used and _unavailable(a, run, inventory, availability) is None]
        fits.sort(key=lambda a: (a.bench_id not in benches, a.asset_id))
        if fits:
            choice[req.name] = fits[0]


def assignment_for(requirement: str, asset: Asset) -> AssetAssignment:
    return AssetAssignment(
        requirement=requirement,
        kind="machine" if asset.kind == "machine" else "resource",
        bench_id=asset.bench_id,
        machine=asset.machine or "",
        resource=asset.resource,
        plr_type=asset.plr_type,
        simulated=asset.simulated,
        asset_id=asset.asset_id,
    )


def _listed(ids: Iterable[str]) -> str:
    names = list(ids)
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")
