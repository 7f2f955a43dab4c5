"""Tracker changes caused by one liquid-handler call: well volumes and tip spots, before -> after.

The frontend queues its tracker updates *before* the backend call and commits them after it returns, so during
the call ``tracker.volume`` is still the committed "before" and ``get_used_volume()`` already the "after" it will
commit on success. A failed call is rolled back by the frontend, so its "after" equals "before".
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pylabrobot.resources import Container, Resource, TipRack, TipSpot
from pylabrobot.resources.errors import NoTipError

TRACKED_METHODS = frozenset(
    {"aspirate", "dispense", "aspirate96", "dispense96", "pick_up_tips", "drop_tips", "pick_up_tips96", "drop_tips96"}
)


def _resources(value: Any) -> list[Resource]:
    """Containers and tip spots referenced by a call's arguments (ops are dataclasses; racks expand to spots)."""
    if isinstance(value, TipRack):
        return list(value.get_all_items())
    if isinstance(value, (Container, TipSpot)):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [r for f in dataclasses.fields(value) for r in _resources(getattr(value, f.name))]
    if isinstance(value, (list, tuple)):
        return [r for item in value for r in _resources(item)]
    return []


def _committed_tip(spot: TipSpot) -> bool:
    try:
        spot.tracker.get_tip()  # the committed tip, not the pending one
    except NoTipError:
        return False
    return True


class StateProbe:
    """Snapshot before a call; :meth:`diff` after it."""

    def __init__(self, method: str, kwargs: dict[str, Any]) -> None:
        found = _resources(list(kwargs.values())) if method in TRACKED_METHODS else []
        unique = {r.name: r for r in found}
        self.containers = [r for r in unique.values() if isinstance(r, Container) and not r.tracker.is_disabled]
        self.spots = [r for r in unique.values() if isinstance(r, TipSpot) and not r.tracker.is_disabled]
        self.volumes_before = {c.name: float(c.tracker.volume) for c in self.containers}
        self.tips_before = {s.name: _committed_tip(s) for s in self.spots}

    def diff(self, ok: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.containers:
            out["volumes"] = {
                c.name: {"before": b, "after": float(c.tracker.get_used_volume()) if ok else b}
                for c, b in zip(self.containers, self.volumes_before.values(), strict=True)
            }
        if self.spots:
            out["tips"] = {
                s.name: {"before": b, "after": s.tracker.has_tip if ok else b}
                for s, b in zip(self.spots, self.tips_before.values(), strict=True)
            }
        return out


def summarize(method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A readable digest of an LH call: resources, volumes, channels (empty for other calls)."""
    ops = kwargs.get("ops")
    if isinstance(ops, list) and ops and all(dataclasses.is_dataclass(op) for op in ops):
        summary: dict[str, Any] = {"resources": [op.resource.name for op in ops]}
        if all(hasattr(op, "volume") for op in ops):
            summary["volumes"] = [float(op.volume) for op in ops]
        if "use_channels" in kwargs:
            summary["channels"] = list(kwargs["use_channels"])
        return summary
    for key in ("aspiration", "dispense", "pickup", "drop"):
        op = kwargs.get(key)
        if dataclasses.is_dataclass(op) and not isinstance(op, type):
            target = getattr(op, "resource", None) or getattr(op, "container", None)
            wells = getattr(op, "wells", None)
            summary = {"resources": [w.name for w in wells] if wells else [target.name] if target else []}
            if hasattr(op, "volume"):
                summary["volume"] = float(op.volume)
            return summary
    return {}
