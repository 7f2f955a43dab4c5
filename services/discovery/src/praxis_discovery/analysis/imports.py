"""What the protocol file's imports bind, and diagnostics for imports PyLabRobot (or praxis_protocol) lacks.

Checking happens against the catalog's module index, so ``from pylabrobot.resources import Plaet`` is reported
at its line and column before anything runs, with the closest names PLR does export.
"""

from __future__ import annotations

import builtins
import collections.abc
import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from praxis_discovery.analysis.source import SourceContext, dotted_name
from praxis_discovery.catalog.model import Catalog

PLR = "pylabrobot"
PRAXIS_PROTOCOL = "praxis_protocol"

#: The public names of praxis_protocol (libs/protocol/src/praxis_protocol/__init__.py); the analyser does not
#: import the authoring library, so keep this in step with its ``__all__``.
PRAXIS_PROTOCOL_NAMES = frozenset(
    {
        "PROTOCOL_ATTRIBUTE",
        "Choices",
        "DataView",
        "Description",
        "ProtocolInfo",
        "Range",
        "SetupInstruction",
        "Unit",
        "protocol",
        "decorator",
    }
)

_BUILTINS = frozenset(dir(builtins))

#: Star imports the analyser understands outside PLR: their public names are known without importing anything
#: the user wrote (``from typing import *`` is common in notebooks turned into protocols).
_KNOWN_STAR_MODULES: dict[str, frozenset[str]] = {
    "typing": frozenset(typing.__all__),
    "collections.abc": frozenset(collections.abc.__all__),
}


@dataclass
class FileImports:
    """Module-level bindings: local name -> absolute dotted target (``Plate`` -> ``pylabrobot.resources.Plate``)."""

    names: dict[str, str] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    local_definitions: set[str] = field(default_factory=set)

    def qualify(self, local: str, catalog: Catalog) -> str | None:
        """Absolute dotted path of a name as written in the file, or None if the file never binds it."""
        head, _, rest = local.partition(".")
        target = self.names.get(head)
        if target is None:
            for module in self.stars:
                entry = catalog.modules_index.get(module)
                known = _KNOWN_STAR_MODULES.get(module, frozenset())
                if (entry is not None and head in entry.exports and not head.startswith("_")) or head in known:
                    target = f"{module}.{head}"
                    break
        if target is None:
            if head in self.local_definitions:
                return None
            if head in _BUILTINS:
                target = f"builtins.{head}"
            else:
                return None
        return f"{target}.{rest}" if rest else target


def collect_imports(ctx: SourceContext, catalog: Catalog) -> FileImports:
    """Bindings of module-level imports (including ``if``/``try`` blocks), and every import checked."""
    imports = FileImports()
    for stmt in _module_level(ctx.module.body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import | cst.ImportFrom):
                    _bind(small, imports)
                elif isinstance(small, cst.Assign | cst.AnnAssign):
                    targets = small.targets if isinstance(small, cst.Assign) else [small]
                    for target in targets:
                        if isinstance(target.target, cst.Name):
                            imports.local_definitions.add(target.target.value)
        elif isinstance(stmt, cst.ClassDef | cst.FunctionDef):
            imports.local_definitions.add(stmt.name.value)
    ctx.module.visit(_ImportChecker(ctx, catalog))
    return imports


def _module_level(body: Sequence[cst.CSTNode]) -> list[cst.CSTNode]:
    """Statements run at import time: the module body plus ``if``/``try`` blocks (``TYPE_CHECKING`` too)."""
    out: list[cst.CSTNode] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, cst.If):
            out.extend(_module_level(stmt.body.body))
            if isinstance(stmt.orelse, cst.Else):
                out.extend(_module_level(stmt.orelse.body.body))
            elif isinstance(stmt.orelse, cst.If):
                out.extend(_module_level([stmt.orelse]))
        elif isinstance(stmt, cst.Try):
            out.extend(_module_level(stmt.body.body))
            for handler in stmt.handlers:
                out.extend(_module_level(handler.body.body))
            if stmt.orelse is not None:
                out.extend(_module_level(stmt.orelse.body.body))
    return out


def _bind(node: cst.Import | cst.ImportFrom, imports: FileImports) -> None:
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                imports.names.setdefault(alias.asname.name.value, full)
            else:
                head = full.split(".")[0]
                imports.names.setdefault(head, head)
        return
    if node.relative or node.module is None:
        return
    module = dotted_name(node.module) or ""
    if isinstance(node.names, cst.ImportStar):
        imports.stars.append(module)
        return
    for alias in node.names:
        name = dotted_name(alias.name) or ""
        local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
        imports.names.setdefault(local, f"{module}.{name}")


class _ImportChecker(cst.CSTVisitor):
    """Every ``pylabrobot`` / ``praxis_protocol`` import anywhere in the file must name something that exists."""

    def __init__(self, ctx: SourceContext, catalog: Catalog) -> None:
        self.ctx = ctx
        self.catalog = catalog

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            module = dotted_name(alias.name) or ""
            if _is_plr(module):
                self._check_module(alias.name, module)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted_name(node.module) or ""
        if module == PRAXIS_PROTOCOL and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = dotted_name(alias.name) or ""
                if name not in PRAXIS_PROTOCOL_NAMES:
                    hint = _hint(name, PRAXIS_PROTOCOL_NAMES)
                    self.ctx.error(alias.name, f"cannot import name {name!r} from 'praxis_protocol'{hint}")
            return
        if not _is_plr(module) or not self._check_module(node.module, module):
            return
        if isinstance(node.names, cst.ImportStar):
            return
        exports = self.catalog.modules_index[module].exports
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            if name in exports or self.catalog.has_module(f"{module}.{name}"):
                continue
            self.ctx.error(
                alias.name,
                f"cannot import name {name!r} from {module!r}: PyLabRobot {self.catalog.plr_version} has no such "
                f"name{_hint(name, exports)}",
            )

    def _check_module(self, node: cst.CSTNode, module: str) -> bool:
        entry = self.catalog.modules_index.get(module)
        if entry is None:
            known = [m for m in self.catalog.modules_index if m.rpartition(".")[0] == module.rpartition(".")[0]]
            self.ctx.error(
                node,
                f"no module named {module!r} in PyLabRobot {self.catalog.plr_version}{_hint(module, known)}",
            )
            return False
        if entry.raises_on_import:
            self.ctx.error(node, f"module {module!r} raises when imported: {entry.raises_on_import}")
            return False
        if entry.deprecated:
            self.ctx.warning(node, f"module {module!r} is deprecated: {entry.deprecated}")
        return True


def _is_plr(module: str) -> bool:
    return module == PLR or module.startswith(PLR + ".")


def _hint(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.75)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
