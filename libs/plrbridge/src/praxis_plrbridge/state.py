"""The compact deck state (liquid volumes, tips in racks) that travels next to PLR's ``serialize()`` JSON.

PLR's ``serialize()`` describes geometry only: a deck rebuilt from it has empty wells and racks without tips.
The worker turns volume and tip tracking on, so it must start from the bench's real state: the agent captures it
with :func:`capture_state` and ships it in ``BenchDescription.serialized[PRAXIS_KEY]`` (the contract has no
field for it yet); the worker applies it with :func:`apply_state`. PLR's own ``serialize_all_state()`` would
do too, but it is ~180 KiB for one STARlet deck; this form lists only non-empty containers and filled tip spots.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pylabrobot.resources import Container, Resource, TipSpot

PRAXIS_KEY = "$praxis"
"""Reserved key of ``BenchDescription.serialized``: ``{"state": {machine: state}, "backend": {machine: props}}``."""


def plr_json(data: dict[str, Any]) -> dict[str, Any]:
    """Force PLR ``serialize()`` output into plain JSON types.

    PLR leaves tuples in some payloads (a container's ``no_go_zones``) and its ``deserialize()`` only rebuilds
    lists, so a deck deserialized from the raw dict fails; after a JSON round trip it works.
    """
    plain: dict[str, Any] = json.loads(json.dumps(data))
    return plain


def walk(root: Resource) -> Iterator[Resource]:
    """``root`` and every descendant, parents first."""
    yield root
    for child in root.children:
        yield from walk(child)


def capture_state(root: Resource) -> dict[str, Any]:
    """Volumes of non-empty containers and the names of tip spots holding a tip, under ``root``."""
    volumes: dict[str, float] = {}
    tips: list[str] = []
    for res in walk(root):
        if isinstance(res, Container) and res.tracker.get_used_volume() > 0:
            volumes[res.name] = float(res.tracker.get_used_volume())
        elif isinstance(res, TipSpot) and res.tracker.has_tip:
            tips.append(res.name)
    return {"volumes": volumes, "tips": tips}


def apply_state(root: Resource, state: dict[str, Any]) -> None:
    """Make the trackers under ``root`` match ``state``: listed volumes and tips, everything else empty."""
    volumes: dict[str, float] = dict(state.get("volumes", {}))
    tips = set(state.get("tips", []))
    for res in walk(root):
        if isinstance(res, Container) and not res.tracker.is_disabled:
            res.tracker.set_volume(float(volumes.get(res.name, 0.0)))
        elif isinstance(res, TipSpot) and not res.tracker.is_disabled:
            _set_tip(res, res.name in tips)


def _set_tip(spot: TipSpot, present: bool) -> None:
    if present and not spot.tracker.has_tip:
        spot.tracker.add_tip(spot.make_tip(), commit=True)
    elif not present and spot.tracker.has_tip:
        spot.tracker.remove_tip(commit=True)
