"""Frontends (``Machine`` subclasses) and backends (``MachineBackend`` subclasses) of the installed PLR.

Classification is by resolved base classes, never by names: a class is a frontend if the MRO reaches
``pylabrobot.machines.machine.Machine``. A frontend *accepts* the backend type named by the ``backend:``
annotation of its ``__init__``; a backend *serves* every frontend whose accepted type is in its MRO.
"""

from __future__ import annotations

import ast
import re

from praxis_discovery.catalog.abstract import AbstractnessOracle
from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.model import BackendEntry, FrontendEntry, UsbDevice
from praxis_discovery.catalog.params import constructor_params
from praxis_discovery.catalog.paths import ImportPaths, manufacturer_of, package_of
from praxis_discovery.catalog.requirements import RequirementFinder
from praxis_discovery.catalog.syntax import deprecation_message, dotted, first_line
from praxis_discovery.catalog.usb import UsbIds

MACHINE = "pylabrobot.machines.machine.Machine"
BACKEND = "pylabrobot.machines.backend.MachineBackend"

#: PLR marks nothing as simulated: the name is the only sign (docs/discovery.md, Facts about PyLabRobot 0.2.2).
#: Non-backend look-alikes (``ChatterBoxBackend``) are excluded because only MachineBackend subclasses are
#: considered at all.
SIMULATED_NAME = re.compile(r"Chatterbox|Simulator")


class MachineScanner:
    def __init__(
        self,
        index: PackageIndex,
        paths: ImportPaths,
        abstract: AbstractnessOracle,
        usb: UsbIds,
        requirements: RequirementFinder,
    ) -> None:
        self.index = index
        self.paths = paths
        self.abstract = abstract
        self.usb = usb
        self.requirements = requirements
        classes = sorted(index.classes)
        self.frontend_fqns = [c for c in classes if c != MACHINE and index.is_subclass(c, MACHINE)]
        self.backend_fqns = [c for c in classes if c != BACKEND and index.is_subclass(c, BACKEND)]
        self.accepts = {f: self._accepted_backend(f) for f in self.frontend_fqns}
        self.generic = {f for f in self.frontend_fqns if self._is_generic(f)}

    # -- frontends -----------------------------------------------------------------------------------------

    def _accepted_backend(self, fqn: str) -> str | None:
        """Backend type from the nearest ``__init__`` in the MRO that has an annotated ``backend`` parameter."""
        for klass in self.index.mro(fqn):
            facts = self.index.classes.get(klass)
            init = facts.method("__init__") if facts else None
            if facts is None or init is None:
                continue
            for arg in [*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs]:
                if arg.arg == "backend" and arg.annotation is not None:
                    name = _annotation_class(arg.annotation)
                    if name is not None:
                        return self.index.resolve_local(facts.module, name)
        return None

    def _parent_frontends(self, fqn: str) -> list[str]:
        return [b for b in self.index.bases(fqn) if b in self.accepts]

    def _is_generic(self, fqn: str) -> bool:
        """A category's own frontend: it accepts an abstract backend type none of its parent frontends accept.

        This separates the 21 generic frontends (LiquidHandler, HeaterShaker, ImageReader...) from device
        specific ones that reuse their parent's backend type (ByonoyAbsorbance96Automate, HamiltonTiltModule)
        or accept one concrete backend (OpentronsThermocyclerModuleV1, IncubatorShakerStack).
        """
        accepted = self.accepts.get(fqn)
        if accepted is None or accepted not in self.index.classes or not self.abstract.is_abstract(accepted):
            return False
        return all(self.accepts.get(parent) != accepted for parent in self._parent_frontends(fqn))

    def frontend_category(self, fqn: str) -> str:
        """The package of the first generic frontend in the MRO, else the class's own package."""
        for klass in self.index.mro(fqn):
            if klass in self.generic:
                return package_of(klass)
        return package_of(fqn)

    def frontends(self) -> list[FrontendEntry]:
        out = []
        for fqn in self.frontend_fqns:
            facts = self.index.classes[fqn]
            out.append(
                FrontendEntry(
                    fqn=fqn,
                    name=facts.name,
                    module=facts.module,
                    import_path=self.paths.best(fqn),
                    category=self.frontend_category(fqn),
                    manufacturer=manufacturer_of(facts.module)[0],
                    generic=fqn in self.generic,
                    abstract=self.abstract.is_abstract(fqn),
                    bases=self.index.bases(fqn),
                    params=constructor_params(self.index, fqn),
                    accepts_backend=self.accepts[fqn],
                    methods=self.abstract.public_methods(fqn),
                    doc=first_line(ast.get_docstring(facts.node)),
                    line=facts.node.lineno,
                )
            )
        return out

    # -- backends ------------------------------------------------------------------------------------------

    def served(self, fqn: str) -> list[str]:
        mro = set(self.index.mro(fqn))
        return sorted(f for f, accepted in self.accepts.items() if accepted is not None and accepted in mro)

    def backend_category(self, fqn: str) -> str:
        """Category of the first generic frontend whose accepted type appears earliest in the backend's MRO."""
        for klass in self.index.mro(fqn):
            for frontend in sorted(self.generic):
                if self.accepts.get(frontend) == klass:
                    return package_of(frontend)
        return package_of(fqn)

    def _deprecation(self, fqn: str) -> str | None:
        facts = self.index.classes[fqn]
        init = facts.method("__init__")
        return deprecation_message(init.body) if init is not None else None

    def backends(self) -> list[BackendEntry]:
        out = []
        for fqn in self.backend_fqns:
            facts = self.index.classes[fqn]
            deprecation = self._deprecation(fqn)
            bases = self.index.bases(fqn)
            requires, transports = self.requirements.requirements(fqn)
            simulated = bool(SIMULATED_NAME.search(facts.name))
            out.append(
                BackendEntry(
                    fqn=fqn,
                    name=facts.name,
                    module=facts.module,
                    import_path=self.paths.best(fqn),
                    category=self.backend_category(fqn),
                    manufacturer=manufacturer_of(facts.module)[0],
                    abstract=self.abstract.is_abstract(fqn),
                    simulated=simulated,
                    deprecated=deprecation is not None,
                    deprecation=deprecation,
                    replacement=bases[0] if deprecation is not None and bases else None,
                    frontends=self.served(fqn),
                    bases=bases,
                    params=constructor_params(self.index, fqn),
                    usb_ids=[] if simulated else self.usb_ids(fqn),
                    transports=transports,
                    requires=requires,
                    doc=first_line(ast.get_docstring(facts.node)),
                    line=facts.node.lineno,
                )
            )
        return out

    def usb_ids(self, fqn: str) -> list[str]:
        own = self.usb.ids(fqn)
        if own:
            return own
        ids: set[str] = set()
        for helper in self._device_helpers(fqn):
            ids.update(self.usb.ids(helper))
        return sorted(ids)

    def usb_devices(self) -> list[UsbDevice]:
        """Non-backend classes (control boxes, readers) whose source states USB ids, for device matching."""
        out = []
        for fqn in sorted(self.index.classes):
            if fqn.startswith("pylabrobot.io.") or fqn in self.backend_fqns or fqn in self.frontend_fqns:
                continue
            ids = self.usb.ids(fqn)
            if ids:
                out.append(UsbDevice(fqn=fqn, usb_ids=ids))
        return out

    def _device_helpers(self, fqn: str) -> set[str]:
        """Helper classes a backend talks through, plus their non-backend subclasses (what a typed
        ``interface:`` parameter holds in practice)."""
        helpers = {h for h in self.requirements.components(fqn) if not h.startswith("pylabrobot.io.")}
        return {impl for h in helpers for impl in self.requirements.implementations(h)}


def _annotation_class(node: ast.expr) -> str | None:
    """``LiquidHandlerBackend``, ``"LiquidHandlerBackend"`` or ``Optional[X]`` -> the class name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.Subscript):
        inner = node.slice
        elts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        for elt in elts:
            found = _annotation_class(elt)
            if found is not None and found != "None":
                return found
        return None
    if isinstance(node, ast.BinOp):
        return _annotation_class(node.left)
    return dotted(node)
