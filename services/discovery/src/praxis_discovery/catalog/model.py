"""The catalog of the installed PyLabRobot, as data: what discovery publishes and the scheduler resolves against.

Every class is keyed by the fully qualified name of its *defining* module (PLR re-exports classes under up to
13 paths); ``import_path`` is the shortest non-deprecated public path a user would type. ``modules_index`` is the
import index that lets protocol analysis resolve ``from pylabrobot.resources import Plate`` without importing PLR.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

#: Bumped whenever the scanner's output changes shape or meaning, so stale caches are never read.
SCANNER_VERSION = 1

ResourceCallable = Literal["factory", "class"]
ParamKind = Literal["positional", "keyword", "var_positional", "var_keyword"]


class Param(BaseModel):
    """A constructor or factory parameter: what a user must (or may) configure."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str | None = Field(default=None, description="annotation as written in the PLR source")
    default: Any = Field(default=None, description="JSON value of a literal default")
    default_repr: str | None = Field(default=None, description="source text of a non-literal default")
    required: bool = True
    kind: ParamKind = "positional"


class Requirement(BaseModel):
    """An optional Python module a backend needs at run time, and the PLR extra that installs it."""

    model_config = ConfigDict(frozen=True)

    module: str
    extra: str | None = None


class FrontendEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    fqn: str
    name: str
    module: str
    import_path: str
    category: str
    manufacturer: str | None = Field(default=None, description="vendor package, when the class lives in one")
    generic: bool = Field(description="a category's own frontend (LiquidHandler), not a device-specific subclass")
    abstract: bool
    bases: list[str]
    params: list[Param]
    accepts_backend: str | None = Field(description="fqn of the backend type in the __init__ `backend:` annotation")
    methods: list[str] = Field(default_factory=list, description="public methods, through the MRO")
    doc: str = ""
    line: int = 0


class BackendEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    fqn: str
    name: str
    module: str
    import_path: str
    category: str
    manufacturer: str | None = Field(default=None, description="vendor package, when the class lives in one")
    abstract: bool
    simulated: bool
    deprecated: bool = False
    deprecation: str | None = None
    replacement: str | None = Field(default=None, description="the class a deprecated alias points to")
    frontends: list[str] = Field(description="frontends whose accepted backend type this class subclasses")
    bases: list[str]
    params: list[Param]
    usb_ids: list[str] = Field(default_factory=list, description="'VVVV:PPPP', upper-case hex, where literal")
    transports: list[str] = Field(default_factory=list, description="pylabrobot.io transports it constructs")
    requires: list[Requirement] = Field(default_factory=list)
    doc: str = ""
    line: int = 0


class ResourceEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    fqn: str
    name: str
    module: str
    import_path: str
    callable: ResourceCallable
    kind: str = Field(description="generic PLR kind via the hierarchy: Plate, TipRack, PlateCarrier, Deck, ...")
    kind_fqn: str
    returns: str = Field(description="the exact class built (TecanPlate for a Tecan plate of kind Plate)")
    manufacturer: str | None = None
    brand: str | None = None
    model: str | None = None
    size_x: float | None = None
    size_y: float | None = None
    size_z: float | None = None
    well_count: int | None = None
    tip_count: int | None = None
    volume_ul: float | None = Field(default=None, description="max volume of one well / tip / container")
    abstract: bool = False
    deprecated: bool = False
    deprecation: str | None = None
    needs_network: bool = False
    raises_on_call: bool = False
    raise_reason: str | None = None
    params: list[Param] = Field(default_factory=list)
    line: int = 0


class FrontendFactoryEntry(BaseModel):
    """A function returning pre-wired frontends (``inheco_thermoshake(...) -> HeaterShaker``)."""

    model_config = ConfigDict(frozen=True)

    fqn: str
    name: str
    import_path: str
    returns: list[str]
    params: list[Param]


class SimulatedFrontend(BaseModel):
    """One "Simulated <Frontend>" choice per generic frontend that a concrete simulated backend serves."""

    model_config = ConfigDict(frozen=True)

    name: str
    category: str
    frontend: str
    backends: list[str]


class UsbDevice(BaseModel):
    """A non-backend class that owns a USB device (``InhecoTECControlBox``), with the ids in its source."""

    model_config = ConfigDict(frozen=True)

    fqn: str
    usb_ids: list[str]


class ModuleEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    exports: dict[str, str] = Field(default_factory=dict, description="importable name -> defining fqn/module")
    deprecated: str | None = None
    raises_on_import: str | None = None


class Catalog(BaseModel):
    plr_version: str
    plr_root: str = ""
    source_digest: str = ""
    scanner_version: int = SCANNER_VERSION
    scan_duration_s: float = 0.0
    frontends: list[FrontendEntry] = Field(default_factory=list)
    backends: list[BackendEntry] = Field(default_factory=list)
    resources: list[ResourceEntry] = Field(default_factory=list)
    frontend_factories: list[FrontendFactoryEntry] = Field(default_factory=list)
    simulated_frontends: list[SimulatedFrontend] = Field(default_factory=list)
    usb_devices: list[UsbDevice] = Field(default_factory=list)
    modules_index: dict[str, ModuleEntry] = Field(
        default_factory=dict, description="every scanned module -> what it exports (for resolving imports)"
    )

    _by_fqn: dict[str, FrontendEntry | BackendEntry | ResourceEntry] | None = PrivateAttr(default=None)
    _search_index: Any = PrivateAttr(default=None)

    @property
    def search_index(self) -> Any:
        """Opaque slot for :mod:`praxis_discovery.catalog.search` (built lazily, never serialised)."""
        return self._search_index

    @search_index.setter
    def search_index(self, value: Any) -> None:
        self._search_index = value

    def entry(self, fqn: str) -> FrontendEntry | BackendEntry | ResourceEntry | None:
        """The frontend, backend or resource entry with this fully qualified name."""
        if self._by_fqn is None:
            table: dict[str, FrontendEntry | BackendEntry | ResourceEntry] = {}
            items: list[FrontendEntry | BackendEntry | ResourceEntry] = [*self.resources, *self.backends]
            items.extend(self.frontends)
            for item in items:
                table[item.fqn] = item
            self._by_fqn = table
        return self._by_fqn.get(fqn)

    def frontend(self, fqn: str) -> FrontendEntry | None:
        found = self.entry(fqn)
        return found if isinstance(found, FrontendEntry) else None

    def backend(self, fqn: str) -> BackendEntry | None:
        found = self.entry(fqn)
        return found if isinstance(found, BackendEntry) else None

    def resource(self, fqn: str) -> ResourceEntry | None:
        found = self.entry(fqn)
        return found if isinstance(found, ResourceEntry) else None

    def has_module(self, module: str) -> bool:
        return module in self.modules_index

    def resolve(self, dotted: str) -> str | None:
        """Defining fqn (or module name) of any importable PLR path; None when PLR has no such name.

        ``pylabrobot.resources.Plate`` -> ``pylabrobot.resources.plate.Plate``; a module resolves to itself;
        a name re-exported from outside PLR resolves to that external path (``typing.Optional``).
        """
        if dotted in self.modules_index:
            return dotted
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.modules_index:
                return self._walk(module, parts[cut:])
        return None

    def _walk(self, module: str, names: list[str]) -> str | None:
        current = module
        for i, name in enumerate(names):
            entry = self.modules_index.get(current)
            if entry is None:
                return None
            target = entry.exports.get(name)
            if target is None:
                submodule = f"{current}.{name}"
                target = submodule if submodule in self.modules_index else None
            if target is None:
                return None
            if i == len(names) - 1:
                return target
            if target not in self.modules_index:
                return None
            current = target
        return current

    def counts(self) -> dict[str, int]:
        return {
            "frontends": len(self.frontends),
            "backends": len(self.backends),
            "resources": len(self.resources),
            "simulated_frontends": len(self.simulated_frontends),
        }
