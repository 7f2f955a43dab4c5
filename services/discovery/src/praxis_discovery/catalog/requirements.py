"""Which optional packages a backend needs to run, derived from the code that runs when it is built and set up.

PLR guards optional imports (``try: import serial / except ImportError: HAS_SERIAL = False``) and fails only
when a device is built or set up. So a backend needs package P when the ``__init__`` or ``setup`` that actually
runs for it (following ``super()`` chains through the MRO) reads a name bound by P's guard block, or when a
component it builds in ``__init__`` does: ``STARBackend`` builds ``pylabrobot.io.usb.USB`` and its ``setup`` calls
``self.io.setup()``, whose body checks ``USE_USB``. ``STARChatterboxBackend`` builds the same ``USB`` but its own
``setup`` never opens it, so it needs nothing (matching what running them showed: 18 of 20 simulated backends
run without extras; ``CytomatChatterbox`` inherits an ``__init__`` that demands pyserial; docs/discovery.md).
"""

from __future__ import annotations

import ast
import sys

from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.model import Requirement
from praxis_discovery.catalog.syntax import dotted, walk

#: Optional module -> the PLR extra that installs it (pyproject of pylabrobot 0.2.2).
MODULE_EXTRAS: dict[str, str] = {
    "serial": "serial",
    "usb": "usb",
    "libusb_package": "usb",
    "pylibftdi": "ftdi",
    "hid": "hid",
    "pymodbus": "modbus",
    "ot_api": "opentrons",
    "grpc": "sila",
    "zeroconf": "sila",
    "numpy": "microscopy",
    "cv2": "microscopy",
}

#: Extra -> the module whose presence says it is installed.
EXTRA_PROBES: dict[str, str] = {
    "serial": "serial",
    "usb": "usb",
    "ftdi": "pylibftdi",
    "hid": "hid",
    "modbus": "pymodbus",
    "opentrons": "ot_api",
    "sila": "grpc",
    "microscopy": "cv2",
}

_IO_PREFIX = "pylabrobot.io."
_TRANSPORTS = ("usb", "ftdi", "serial", "hid", "socket", "http", "sila")
_DEPTH = 3

Method = ast.FunctionDef | ast.AsyncFunctionDef


class RequirementFinder:
    def __init__(self, index: PackageIndex, roots: frozenset[str]) -> None:
        """``roots``: classes whose subclasses are never treated as components (Machine, MachineBackend,
        Resource): a backend that mentions a plate is not "built from" it."""
        self.index = index
        self.roots = roots
        self._subclasses: dict[str, list[str]] | None = None
        self._needs: dict[tuple[str, int, bool, bool], tuple[set[str], set[str]]] = {}
        self._parts: dict[int, set[str]] = {}

    # -- method chains -------------------------------------------------------------------------------------

    def chain(self, fqn: str, method: str) -> list[tuple[str, Method]]:
        """The ``method`` bodies that run for ``fqn``: the first definer in the MRO, then what it delegates to.

        ``super().method()`` continues with the next class in the MRO; ``Base.method(self)`` jumps to ``Base``
        (the OT-2 simulators call ``LiquidHandlerBackend.__init__(self)`` precisely to skip the ``ot_api`` check).
        """
        mro = self.index.mro(fqn)
        out: list[tuple[str, Method]] = []
        self._chain_from(mro, 0, method, out)
        return out

    def _chain_from(self, mro: list[str], start: int, method: str, out: list[tuple[str, Method]]) -> None:
        for i in range(start, len(mro)):
            klass = mro[i]
            facts = self.index.classes.get(klass)
            node = facts.method(method) if facts is not None else None
            if facts is None or node is None:
                continue
            if any(klass == seen for seen, _ in out):
                return
            out.append((klass, node))
            for target in _delegations(node, method):
                if target == "super":
                    self._chain_from(mro, i + 1, method, out)
                    continue
                resolved = self.index.resolve_local(facts.module, target)
                if resolved in mro:
                    self._chain_from(mro, mro.index(resolved), method, out)
            return

    def _guard_refs(self, klass: str, node: Method) -> set[str]:
        facts = self.index.modules.get(klass.rpartition(".")[0])
        if facts is None or not facts.guards:
            return set()
        found: set[str] = set()
        for name in _runtime_names(node):
            if name in facts.guards:
                found |= facts.guards[name]
        return found

    def _components(self, klass: str, node: Method) -> set[str]:
        """Package classes built in (or annotated as parameters of) a method, excluding machines/resources."""
        if id(node) in self._parts:
            return self._parts[id(node)]
        module = klass.rpartition(".")[0]
        found: set[str] = set()
        for sub in walk(node):
            name = None
            if isinstance(sub, ast.Call):
                name = dotted(sub.func)
            elif isinstance(sub, ast.arg) and sub.annotation is not None:
                name = dotted(sub.annotation)
            if name is None or name.split(".")[0] in ("self", "cls", "super"):
                continue
            target = self.index.resolve_local(module, name)
            if target is not None and target in self.index.classes and not self._rooted(target):
                found.add(target)
        self._parts[id(node)] = found
        return found

    def _rooted(self, fqn: str) -> bool:
        mro = self.index.mro(fqn)
        return any(root in mro for root in self.roots)

    # -- requirements --------------------------------------------------------------------------------------

    def needs(self, fqn: str, depth: int = _DEPTH, opened: bool = True, top: bool = True) -> tuple[set[str], set[str]]:
        """(optional packages, opened io classes) needed to build ``fqn`` and set it up.

        For the backend itself (``top``) that is its ``__init__`` and ``setup`` chains. A component it builds
        counts in full (every method) when the backend's ``setup`` uses it (``self.io.setup()``) or when it is a
        constructor parameter the caller must supply; otherwise only the component's ``__init__`` runs.
        """
        key = (fqn, depth, opened, top)
        if key in self._needs:
            return self._needs[key]
        self._needs[key] = (set(), set())  # recursion guard
        result = self._compute_needs(fqn, depth, opened, top)
        self._needs[key] = result
        return result

    def _compute_needs(self, fqn: str, depth: int, opened: bool, top: bool) -> tuple[set[str], set[str]]:
        init = self.chain(fqn, "__init__")
        if top:
            setup = self.chain(fqn, "setup")
            bodies = [*init, *setup]
            opens_parts = any(_opens_attribute(node) for _, node in setup)
        elif opened:
            bodies = self._all_methods(fqn)
            opens_parts = True
        else:
            bodies = init
            opens_parts = False
        packages: set[str] = set()
        for klass, node in bodies:
            packages |= self._guard_refs(klass, node)
        io = {fqn} if fqn.startswith(_IO_PREFIX) and opened and not top else set()
        if depth > 0:
            for klass, node in bodies if (opened and not top) else init:
                for part in self._components(klass, node):
                    is_param = _is_param(node, part)
                    for candidate in self.implementations(part) if is_param else [part]:
                        sub_packages, sub_io = self.needs(
                            candidate, depth - 1, opened=opens_parts or is_param, top=False
                        )
                        packages |= sub_packages
                        io |= sub_io
        return packages, io

    def implementations(self, fqn: str) -> list[str]:
        """``fqn`` and its package subclasses that are not machines/backends: what a typed parameter may hold
        (``interface: HamiltonHeaterShakerInterface`` is in practice a ``HamiltonHeaterShakerBox``)."""
        if self._subclasses is None:
            table: dict[str, list[str]] = {}
            for klass in self.index.classes:
                if self._rooted(klass):
                    continue
                for base in self.index.mro(klass)[1:]:
                    table.setdefault(base, []).append(klass)
            self._subclasses = table
        return [fqn, *sorted(self._subclasses.get(fqn, []))]

    def _all_methods(self, fqn: str) -> list[tuple[str, Method]]:
        out: list[tuple[str, Method]] = []
        for klass in self.index.mro(fqn):
            facts = self.index.classes.get(klass)
            if facts is None:
                continue
            out.extend((klass, s) for s in facts.node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))
        return out

    def requirements(self, fqn: str) -> tuple[list[Requirement], list[str]]:
        """(optional modules needed, io transports used) for the backend ``fqn``."""
        packages, io = self.needs(fqn)
        packages = {p for p in packages if p != self.index.package and p not in sys.stdlib_module_names}
        transports = {t for t in (_transport(c) for c in io) if t}
        if "ot_api" in packages:
            transports.add("http")
        if "pymodbus" in packages:
            transports.add("modbus")
        reqs = [Requirement(module=m, extra=MODULE_EXTRAS.get(m)) for m in sorted(packages)]
        return reqs, sorted(transports)

    def components(self, fqn: str) -> set[str]:
        """Every package class built by ``fqn``'s ``__init__`` chain, two levels deep (for USB-id lookup)."""
        seen: set[str] = set()
        frontier = {fqn}
        for _ in range(2):
            nxt: set[str] = set()
            for klass in frontier:
                for owner, node in self.chain(klass, "__init__"):
                    nxt |= self._components(owner, node)
            nxt -= seen | {fqn}
            seen |= nxt
            frontier = {k for k in nxt if not k.startswith(_IO_PREFIX)}
        return seen


def _runtime_names(node: ast.AST) -> set[str]:
    """Names a function body evaluates; annotations inside a function are never evaluated, so they are skipped
    (``self.dev: Optional[usb.core.Device] = None`` in ``USB.__init__`` does not need pyusb)."""
    names: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            names.add(current.id)
            continue
        for field, value in ast.iter_fields(current):
            if field in ("annotation", "returns", "type_comment"):
                continue
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))
    return names


def _delegations(node: Method, method: str) -> list[str]:
    """``"super"`` for ``super().method(...)``, ``"Base"`` for ``Base.method(self, ...)``, in source order."""
    out: list[str] = []
    for sub in walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == method:
            target = sub.func.value
            if isinstance(target, ast.Call) and dotted(target.func) == "super":
                out.append("super")
            elif isinstance(target, ast.Name | ast.Attribute) and sub.args and dotted(sub.args[0]) == "self":
                name = dotted(target)
                if name is not None:
                    out.append(name)
    return out


def _opens_attribute(node: Method) -> bool:
    """Does a ``setup`` use a component it built (``await self.io.setup()``, ``self.reader.connect()``)?"""
    for sub in walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            owner = sub.func.value
            if isinstance(owner, ast.Attribute) and dotted(owner.value) == "self":
                return True
    return False


def _is_param(node: Method, part: str) -> bool:
    """A component passed in as an annotated parameter (``control_box: InhecoTECControlBox``) must be usable."""
    short = part.rsplit(".", 1)[-1]
    return any(
        a.annotation is not None and (dotted(a.annotation) or "").endswith(short)
        for a in [*node.args.args, *node.args.kwonlyargs]
    )


def _transport(fqn: str) -> str:
    name = fqn[len(_IO_PREFIX) :].split(".")[0]
    return name if name in _TRANSPORTS else ""
