"""The run's frontends, built locally from the benches' descriptions with proxy backends swapped in.

Only the machines the assignment names are built (the run holds reservations for those alone). Each frontend is
PLR's own deserialization of the agent's ``serialize()`` JSON, so geometry and names match the bench exactly;
the agent's tracker state (volumes, tips) is then applied, because ``serialize()`` carries none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Container, Coordinate, Deck, Plate, Resource, Trough
from pylabrobot.serializer import deserialize

from praxis_contracts.hardware import BenchDescription, MachineInfo
from praxis_contracts.runs import Assignment
from praxis_executor.worker.proxy import CallSink, ProxyTarget, proxy_backend_class
from praxis_plrbridge.imports import import_object
from praxis_plrbridge.interface import backend_interface
from praxis_plrbridge.state import PRAXIS_KEY, apply_state, plr_json, walk


class DeckBuildError(RuntimeError):
    """The assignment names a machine the bench description cannot provide."""


@dataclass
class RunMachine:
    bench_id: str
    name: str
    info: MachineInfo
    frontend: Machine

    @property
    def root(self) -> Resource | None:
        """Where this machine's labware hangs: a liquid handler's deck, or the machine itself."""
        if isinstance(self.frontend, LiquidHandler):
            return self.frontend.deck
        return self.frontend if isinstance(self.frontend, Resource) else None

    def get_resource(self, name: str) -> Resource:
        if self.root is None:
            raise DeckBuildError(f"machine {self.name!r} on bench {self.bench_id!r} holds no resources")
        return self.root.get_resource(name)


class RunDeck:
    def __init__(self, machines: list[RunMachine]) -> None:
        self.machines = {(m.bench_id, m.name): m for m in machines}

    def machine(self, bench_id: str, name: str) -> RunMachine:
        try:
            return self.machines[(bench_id, name)]
        except KeyError:
            raise DeckBuildError(f"machine {name!r} of bench {bench_id!r} is not part of this run") from None

    def by_bench(self) -> dict[str, list[RunMachine]]:
        out: dict[str, list[RunMachine]] = {}
        for m in self.machines.values():
            out.setdefault(m.bench_id, []).append(m)
        return out

    async def setup(self) -> None:
        """Local setup only (proxy backends do not touch the device): heads and trackers get created."""
        for m in self.machines.values():
            await m.frontend.setup()

    async def stop(self) -> list[Exception]:
        """Stop every frontend; some stops make machine calls (a heater-shaker deactivates), so one failing must
        not keep the others from stopping. Returns the failures."""
        failures: list[Exception] = []
        for m in self.machines.values():
            if m.frontend.setup_finished:
                try:
                    await m.frontend.stop()
                except Exception as exc:
                    failures.append(exc)
        return failures

    def well_volumes(self) -> dict[str, dict[str, float]]:
        """Final volumes: every plate by well identifier (``A1``), every trough by its own name."""
        out: dict[str, dict[str, float]] = {}
        for m in self.machines.values():
            for res in walk(m.root) if m.root is not None else ():
                if isinstance(res, Plate):
                    out[res.name] = {
                        w.get_identifier(): float(w.tracker.get_used_volume()) for w in res.get_all_items()
                    }
                elif isinstance(res, Trough):
                    out[res.name] = {res.name: float(res.tracker.get_used_volume())}
                elif isinstance(res, Container) and res.parent is not None and not isinstance(res.parent, Plate):
                    if res.tracker.get_used_volume() > 0:
                        out[res.name] = {res.name: float(res.tracker.get_used_volume())}
        return out


def build_frontend(
    info: MachineInfo,
    serialized: dict[str, Any],
    target: ProxyTarget,
    *,
    state: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
) -> Machine:
    """Deserialize the agent's frontend with a proxy backend, then load the agent's tracker state."""
    frontend_cls = import_object(info.frontend)
    proxy_cls = proxy_backend_class(backend_interface(frontend_cls))
    proxy = proxy_cls(target, remote=serialized.get("backend"), properties=properties)
    data = plr_json(serialized)
    frontend: Machine
    if issubclass(frontend_cls, LiquidHandler):
        offset = deserialize(data.get("default_offset_head96")) or Coordinate.zero()
        deck = Deck.deserialize(data["children"][0])
        frontend = frontend_cls(backend=proxy, deck=deck, name=data["name"], default_offset_head96=offset)
    elif issubclass(frontend_cls, Resource):
        frontend = Resource.deserialize({**data, "backend": proxy})
    else:
        kwargs = {k: deserialize(v) for k, v in data.items() if k not in ("type", "backend")}
        frontend = frontend_cls(backend=proxy, **kwargs)
    root = frontend.deck if isinstance(frontend, LiquidHandler) else frontend
    if state is not None and isinstance(root, Resource):
        apply_state(root, state)
    return frontend


def build_run_deck(assignment: Assignment, benches: Mapping[str, BenchDescription], sink: CallSink) -> RunDeck:
    machines: list[RunMachine] = []
    for bench_id, name in sorted({(a.bench_id, a.machine) for a in assignment.assets}):
        desc = benches.get(bench_id)
        if desc is None:
            raise DeckBuildError(f"no description of bench {bench_id!r} (have {sorted(benches)})")
        info = next((m for m in desc.machines if m.name == name), None)
        if info is None or name not in desc.serialized:
            raise DeckBuildError(f"bench {bench_id!r} has no machine {name!r}")
        extra = desc.serialized.get(PRAXIS_KEY, {})
        frontend = build_frontend(
            info,
            desc.serialized[name],
            ProxyTarget(bench_id, name, sink),
            state=extra.get("state", {}).get(name),
            properties=extra.get("backend", {}).get(name),
        )
        machines.append(RunMachine(bench_id, name, info, frontend))
    return RunDeck(machines)
