"""Per-run mirrors of a machine's resources, so names in a machine call resolve to resources on the agent.

The worker owns the run's deck (and its trackers); it sends PLR ``serialize()`` JSON of each machine it uses
(``LoadRunDeck``). The agent rebuilds that tree once per run and resolves every ``{"$resource": name}`` in it, so a
plate the protocol moved, or labware the run added, is where the worker believes it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Coordinate, Deck, Resource

from praxis_hardware_agent.domain.errors import UnknownResource
from praxis_plrbridge.state import plr_json, walk


@dataclass
class MachineMirror:
    machine: str
    root: Resource | None
    deck: Deck | None = None
    index: dict[str, Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.root is not None and not self.index:
            self.index = {r.name: r for r in walk(self.root)}

    def resolve(self, name: str) -> Resource:
        try:
            return self.index[name]
        except KeyError:
            raise UnknownResource(f"machine {self.machine!r} has no resource named {name!r}") from None


def live_mirror(name: str, frontend: Machine) -> MachineMirror:
    """The machine's own tree (from the bench config): used when no run deck was loaded, e.g. from a REPL."""
    if isinstance(frontend, LiquidHandler):
        return MachineMirror(name, frontend.deck)
    return MachineMirror(name, frontend if isinstance(frontend, Resource) else None)


def mirror_from_serialized(name: str, frontend: Machine, serialized: dict[str, Any]) -> MachineMirror:
    """Rebuild the worker's tree for ``frontend`` from its ``serialize()`` JSON."""
    data = plr_json(serialized)
    if isinstance(frontend, LiquidHandler):
        deck = Deck.deserialize(data["children"][0])
        return MachineMirror(name, deck, deck=deck)
    if not isinstance(frontend, Resource):
        return MachineMirror(name, None)
    try:  # the same frontend class, bound to the live backend (never set up: only its tree is used)
        root = Resource.deserialize({**data, "backend": frontend.backend})
    except Exception:  # a device-specific frontend whose __init__ does not match its serialize()
        root = _plain_holder(data)
    return MachineMirror(name, root)


def _plain_holder(data: dict[str, Any]) -> Resource:
    root = Resource(name=data["name"], size_x=data["size_x"], size_y=data["size_y"], size_z=data["size_z"])
    for child in data.get("children", []):
        loc = child.get("location") or {"x": 0, "y": 0, "z": 0}
        root.assign_child_resource(Resource.deserialize(child), location=Coordinate(loc["x"], loc["y"], loc["z"]))
    return root
