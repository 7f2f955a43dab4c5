"""A bench described as data (YAML), and the builder that turns one machine of it into a live PLR frontend.

The agent builds its machines from this file; nothing else does. Every error names the machine and the field
(``machine 'lh', field labware[1].rails: ...``) because the person reading it is editing that YAML file.

Keyword arguments (``backend_kwargs``, ``frontend_kwargs``, deck and labware ``kwargs``) are passed as written,
except that a mapping with exactly the keys ``x``, ``y``, ``z`` becomes a PLR ``Coordinate`` (e.g.
``child_location: {x: 0, y: 0, z: 50}``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pylabrobot.liquid_handling import LiquidHandler
from pylabrobot.machines.backend import MachineBackend
from pylabrobot.machines.machine import Machine
from pylabrobot.resources import Container, Coordinate, Deck, ItemizedResource, Resource

from praxis_plrbridge.imports import ImportPathError, import_object

_IMPORT_PATH = r"^[A-Za-z_]\w*([.:][A-Za-z_]\w*)+$"
_TOKEN = r"^[A-Za-z0-9_-]+$"  # one NATS subject token: no dots, spaces or wildcards

WellVolumes = float | list[float] | dict[str, float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabwareConfig(_Model):
    """A resource built by ``factory(name=..., **kwargs)``, placed on its parent, with children on its sites."""

    name: str = Field(min_length=1)
    factory: str = Field(pattern=_IMPORT_PATH, description="import path of a resource class or factory function")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    rails: int | None = Field(default=None, ge=1, description="Hamilton decks: the carrier's rail")
    slot: int | None = Field(default=None, ge=1, description="Opentrons decks: the deck slot")
    location: tuple[float, float, float] | None = Field(default=None, description="x, y, z on the parent (mm)")
    children: dict[int, LabwareConfig] = Field(default_factory=dict, description="site index -> labware")
    well_volumes: WellVolumes | None = Field(
        default=None, description="µL: one number for every well, a list in well order, or {identifier: volume}"
    )

    @model_validator(mode="after")
    def _one_placement(self) -> LabwareConfig:
        if sum(p is not None for p in (self.rails, self.slot, self.location)) > 1:
            raise ValueError("give at most one of rails, slot, location")
        return self


class DeckConfig(_Model):
    type: str = Field(pattern=_IMPORT_PATH, description="import path of a deck class or factory (STARLetDeck)")
    kwargs: dict[str, Any] = Field(default_factory=dict)


class MachineConfig(_Model):
    name: str = Field(pattern=_TOKEN)
    frontend: str = Field(pattern=_IMPORT_PATH, description="e.g. pylabrobot.liquid_handling.LiquidHandler")
    backend: str = Field(pattern=_IMPORT_PATH)
    backend_kwargs: dict[str, Any] = Field(default_factory=dict)
    frontend_kwargs: dict[str, Any] = Field(default_factory=dict, description="size_x/y/z, child_location, ...")
    deck: DeckConfig | None = Field(default=None, description="liquid handlers only")
    labware: list[LabwareConfig] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list, description="extras the inventory cannot infer")
    simulated: bool | None = Field(
        default=None,
        description="whether the device's effects live only in the agent process; default: inferred from the "
        "backend class (PLR names its simulators *Chatterbox* / *Simulator*). The agent records the intent of a "
        "call before invoking a non-simulated machine, so `false` on a simulator makes it behave like hardware.",
    )

    @field_validator("deck", mode="before")
    @classmethod
    def _deck_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique_labware(self) -> MachineConfig:
        names = [lw.name for lw in _flatten(self.labware)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"labware names must be unique on a machine: {dupes}")
        return self


class BenchConfig(_Model):
    bench_id: str = Field(pattern=_TOKEN)
    simulated: bool = True
    machines: list[MachineConfig] = Field(min_length=1)
    unreachable_timeout_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="seconds a run waits for this bench to answer before it parks (default: the executor's)",
    )

    @field_validator("unreachable_timeout_s", mode="before")
    @classmethod
    def _a_number_of_seconds(cls, value: Any) -> Any:
        """YAML ``yes`` or ``"30"`` would be coerced silently; a timeout is written as a plain number."""
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"must be a positive number of seconds, not {value!r}")
        return value

    @model_validator(mode="after")
    def _unique_machines(self) -> BenchConfig:
        names = [m.name for m in self.machines]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"machine names must be unique on a bench: {dupes}")
        return self

    def machine(self, name: str) -> MachineConfig:
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(f"bench {self.bench_id!r} has no machine {name!r}")


@dataclass(frozen=True)
class ConfigIssue:
    machine: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"machine {self.machine!r}, field {self.field}" if self.machine else f"field {self.field}"
        return f"{where}: {self.message}"


class BenchConfigError(ValueError):
    """An invalid bench config; ``issues`` name the machine and field of every problem."""

    def __init__(self, issues: list[ConfigIssue], source: str = "bench config") -> None:
        self.issues = issues
        super().__init__(f"{source}: " + "; ".join(str(i) for i in issues))


def _flatten(labware: list[LabwareConfig]) -> list[LabwareConfig]:
    out: list[LabwareConfig] = []
    for lw in labware:
        out.append(lw)
        out.extend(_flatten(list(lw.children.values())))
    return out


def parse_bench_config(data: Mapping[str, Any], source: str = "bench config") -> BenchConfig:
    """Validate a parsed YAML/JSON mapping; pydantic errors become :class:`BenchConfigError` issues."""
    try:
        return BenchConfig.model_validate(data)
    except ValidationError as exc:
        raise BenchConfigError([_issue(data, err) for err in exc.errors()], source) from None


def load_bench_config(path: str | Path) -> BenchConfig:
    """Read and validate a bench YAML file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BenchConfigError([ConfigIssue(None, "(file)", f"not valid YAML: {exc}")], str(path)) from None
    if not isinstance(data, Mapping):
        raise BenchConfigError([ConfigIssue(None, "(file)", "expected a mapping at the top")], str(path))
    return parse_bench_config(data, str(path))


def _issue(data: Mapping[str, Any], err: Any) -> ConfigIssue:
    loc = tuple(err["loc"])
    machine: str | None = None
    if len(loc) >= 2 and loc[0] == "machines" and isinstance(loc[1], int):
        machines = data.get("machines")
        raw = machines[loc[1]] if isinstance(machines, list) and loc[1] < len(machines) else None
        machine = str(raw.get("name")) if isinstance(raw, Mapping) and raw.get("name") else f"#{loc[1]}"
        loc = loc[2:]
    return ConfigIssue(machine, _format_loc(loc) or "(machine)", str(err["msg"]))


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ---------------------------------------------------------------------------------------------- building


def coerce_kwargs(value: Any) -> Any:
    """``{x, y, z}`` mappings become ``Coordinate``; everything else is returned as is (recursively)."""
    if isinstance(value, Mapping):
        if set(value) == {"x", "y", "z"}:
            return Coordinate(float(value["x"]), float(value["y"]), float(value["z"]))
        return {k: coerce_kwargs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_kwargs(v) for v in value]
    return value


class _Builder:
    """Builds one machine; remembers which machine it builds so every error can name it."""

    def __init__(self, cfg: MachineConfig) -> None:
        self.cfg = cfg

    def fail(self, field: str, message: str) -> BenchConfigError:
        return BenchConfigError([ConfigIssue(self.cfg.name, field, message)])

    def load(self, field: str, path: str, base: type[Any] | None = None) -> Any:
        try:
            obj = import_object(path)
        except ImportPathError as exc:
            raise self.fail(field, str(exc)) from None
        if base is not None and not (isinstance(obj, type) and issubclass(obj, base)):
            raise self.fail(field, f"{path} is not a {base.__module__}.{base.__qualname__}")
        return obj

    def call(self, field: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **coerce_kwargs(kwargs))
        except BenchConfigError:
            raise
        except Exception as exc:
            raise self.fail(field, f"{type(exc).__name__}: {exc}") from exc

    def machine(self) -> Machine:
        cfg = self.cfg
        frontend_cls = self.load("frontend", cfg.frontend, Machine)
        backend_cls = self.load("backend", cfg.backend, MachineBackend)
        accepted = accepted_backend(frontend_cls)
        if accepted is not None and not issubclass(backend_cls, accepted):
            raise self.fail(
                "backend",
                f"{backend_cls.__name__} does not serve a {frontend_cls.__name__}: "
                f"it needs a {accepted.__name__} (pick one from the catalog's backends for this frontend)",
            )
        backend = self.call("backend_kwargs", backend_cls, **cfg.backend_kwargs)
        kwargs: dict[str, Any] = {**cfg.frontend_kwargs, "backend": backend}
        if "name" in inspect.signature(frontend_cls.__init__).parameters:
            kwargs["name"] = cfg.name
        if issubclass(frontend_cls, LiquidHandler):
            if cfg.deck is None:
                raise self.fail("deck", "a liquid handler needs a deck")
            kwargs["deck"] = self.deck(cfg.deck)
        elif cfg.deck is not None:
            raise self.fail("deck", f"only liquid handlers take a deck, not {cfg.frontend}")
        frontend: Machine = self.call("frontend_kwargs", frontend_cls, **kwargs)
        parent = frontend.deck if isinstance(frontend, LiquidHandler) else frontend
        if cfg.labware and not isinstance(parent, Resource):
            raise self.fail("labware", f"{cfg.frontend} holds no labware")
        for i, lw in enumerate(cfg.labware):
            assert isinstance(parent, Resource)
            self.place(f"labware[{i}]", parent, lw)
        return frontend

    def deck(self, cfg: DeckConfig) -> Deck:
        deck = self.call("deck.kwargs", self.load("deck.type", cfg.type), **cfg.kwargs)
        if not isinstance(deck, Deck):
            raise self.fail("deck.type", f"{cfg.type} did not make a Deck but a {type(deck).__name__}")
        return deck

    def labware(self, field: str, lw: LabwareConfig) -> Resource:
        res = self.call(f"{field}.factory", self.load(f"{field}.factory", lw.factory), name=lw.name, **lw.kwargs)
        if not isinstance(res, Resource):
            raise self.fail(f"{field}.factory", f"{lw.factory} did not make a Resource")
        for site, child_cfg in lw.children.items():
            child = self.labware(f"{field}.children[{site}]", child_cfg)
            self.call(f"{field}.children[{site}]", res.__setitem__, site, child)
        if lw.well_volumes is not None:
            self.call(f"{field}.well_volumes", _fill, res=res, volumes=lw.well_volumes)
        return res

    def place(self, field: str, parent: Resource, lw: LabwareConfig) -> None:
        res = self.labware(field, lw)
        if lw.rails is not None:
            self.call(f"{field}.rails", parent.assign_child_resource, resource=res, rails=lw.rails)
        elif lw.slot is not None:
            assign_at_slot = getattr(parent, "assign_child_at_slot", None)
            if assign_at_slot is None:
                raise self.fail(f"{field}.slot", f"a {type(parent).__name__} has no slots")
            self.call(f"{field}.slot", assign_at_slot, resource=res, slot=lw.slot)
        elif lw.location is not None:
            loc = Coordinate(*lw.location)
            self.call(f"{field}.location", parent.assign_child_resource, resource=res, location=loc)
        else:
            self.call(field, parent.assign_child_resource, resource=res)


def _fill(res: Resource, volumes: WellVolumes) -> None:
    if isinstance(res, Container):
        if not isinstance(volumes, (int, float)):
            raise ValueError(f"{res.name} is one container: give one number")
        res.tracker.set_volume(float(volumes))
    elif isinstance(res, ItemizedResource):
        items = res.get_all_items()
        if isinstance(volumes, (int, float)):
            volumes = [float(volumes)] * len(items)
        if isinstance(volumes, list):
            if len(volumes) != len(items):
                raise ValueError(f"{len(volumes)} volumes for {len(items)} wells")
            for item, vol in zip(items, volumes, strict=True):
                item.tracker.set_volume(float(vol))
        else:
            for ident, vol in volumes.items():
                for item in res[ident]:
                    item.tracker.set_volume(float(vol))
    else:
        raise ValueError(f"a {type(res).__name__} holds no liquid")


def build_machine(cfg: MachineConfig) -> Machine:
    """Instantiate the frontend with its backend, deck and labware (not set up: call ``await setup()``)."""
    return _Builder(cfg).machine()


def build_bench(cfg: BenchConfig) -> dict[str, Machine]:
    """Every machine of the bench by name."""
    return {m.name: build_machine(m) for m in cfg.machines}


def accepted_backend(frontend_cls: type[Machine]) -> type[MachineBackend] | None:
    """The backend type a frontend's constructor declares (``backend: LiquidHandlerBackend``), if it says."""
    try:
        hints = typing.get_type_hints(frontend_cls.__init__)
    except Exception:  # unresolvable forward references: PLR then decides at construction
        return None
    hint = hints.get("backend")
    return hint if isinstance(hint, type) and issubclass(hint, MachineBackend) else None
