"""One pass over one PLR source file: what names the module binds, and the class and function nodes it defines.

Only module-level statements are read (descending into ``if``/``try``/``with`` blocks, so conditional and
``TYPE_CHECKING`` imports count). The first binding of a name wins: a ``try: import x`` / ``except: x = None``
pair keeps the import, which is what a static reader wants.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from praxis_discovery.catalog.source import SourceFile
from praxis_discovery.catalog.syntax import deprecation_message, dotted, module_statements, raise_message, walk

BindingKind = Literal["class", "function", "value", "import", "alias"]

#: Cheap pre-filter for the USB-id pass: only modules mentioning an id-like name are walked (substring tests
#: on the lower-cased bytes; a case-insensitive regex over 5 MB cost 0.3 s).
_USB_HINTS = (b"vid", b"pid", b"vendor", b"product", b"usb_ids")

_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class Binding:
    """What a module-level name is bound to.

    ``target`` is an absolute dotted path for imports, a dotted expression *local to the module* for aliases
    (``Name = other.Name``), and the name's own fully qualified name for classes, functions and values.
    """

    kind: BindingKind
    target: str
    lineno: int = 0


@dataclass
class ClassFacts:
    module: str
    name: str
    node: ast.ClassDef

    @property
    def fqn(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def base_exprs(self) -> list[str]:
        return [dotted(b) or "<expr>" for b in self.node.bases]

    @property
    def metaclass(self) -> str | None:
        for kw in self.node.keywords:
            if kw.arg == "metaclass":
                return dotted(kw.value)
        return None

    def method(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for stmt in module_statements(self.node.body):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
                return stmt
        return None


@dataclass
class FunctionFacts:
    module: str
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef

    @property
    def fqn(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class ModuleFacts:
    name: str
    path: Path
    is_package: bool
    bindings: dict[str, Binding] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    classes: dict[str, ClassFacts] = field(default_factory=dict)
    functions: dict[str, FunctionFacts] = field(default_factory=dict)
    values: dict[str, ast.expr] = field(default_factory=dict)
    all_names: list[str] | None = None
    guarded_imports: set[str] = field(default_factory=set)
    guards: dict[str, set[str]] = field(default_factory=dict)
    deprecated: str | None = None
    raises_on_import: str | None = None
    mentions_usb: bool = False

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]

    def absolute(self, module: str | None, level: int) -> str:
        """``from ..x import y`` inside this module -> the absolute module ``x`` names."""
        if level == 0:
            return module or ""
        parts = self.package.split(".")
        base = parts[: len(parts) - (level - 1)] if level > 1 else parts
        return ".".join([*base, module] if module else base)


def parse_file(source: SourceFile) -> ModuleFacts:
    """Parse one file. A file that does not parse yields an empty module (it is reported, never fatal)."""
    facts = ModuleFacts(name=source.module, path=source.path, is_package=source.is_package)
    try:
        data = source.path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in PLR docstrings are not our problem
            tree = ast.parse(data, filename=str(source.path))
    except (SyntaxError, ValueError, OSError):
        return facts
    lowered = data.lower()
    facts.mentions_usb = any(hint in lowered for hint in _USB_HINTS)
    _collect(facts, tree.body)
    facts.guards = _guards(tree.body)
    facts.guarded_imports = {m for mods in facts.guards.values() for m in mods}
    facts.deprecated = deprecation_message(tree.body)
    for stmt in tree.body:
        if isinstance(stmt, ast.Raise):
            facts.raises_on_import = raise_message(stmt)
            break
    return facts


def _bind(facts: ModuleFacts, name: str, binding: Binding) -> None:
    facts.bindings.setdefault(name, binding)


def _collect(facts: ModuleFacts, body: list[ast.stmt]) -> None:
    for stmt in module_statements(body):
        if isinstance(stmt, ast.ClassDef):
            facts.classes.setdefault(stmt.name, ClassFacts(facts.name, stmt.name, stmt))
            _bind(facts, stmt.name, Binding("class", f"{facts.name}.{stmt.name}", stmt.lineno))
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.functions.setdefault(stmt.name, FunctionFacts(facts.name, stmt.name, stmt))
            _bind(facts, stmt.name, Binding("function", f"{facts.name}.{stmt.name}", stmt.lineno))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    _bind(facts, alias.asname, Binding("import", alias.name, stmt.lineno))
                else:
                    head = alias.name.split(".")[0]
                    _bind(facts, head, Binding("import", head, stmt.lineno))
        elif isinstance(stmt, ast.ImportFrom):
            source = facts.absolute(stmt.module, stmt.level)
            for alias in stmt.names:
                if alias.name == "*":
                    facts.stars.append(source)
                else:
                    local = alias.asname or alias.name
                    _bind(facts, local, Binding("import", f"{source}.{alias.name}", stmt.lineno))
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            _collect_assignment(facts, stmt)


def _collect_assignment(facts: ModuleFacts, stmt: ast.Assign | ast.AnnAssign) -> None:
    value = stmt.value
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    for target in targets:
        if not isinstance(target, ast.Name):
            continue
        name = target.id
        if name == "__all__" and value is not None:
            facts.all_names = _string_list(value)
            continue
        if value is None:
            continue
        facts.values.setdefault(name, value)
        alias = dotted(value) if isinstance(value, ast.Name | ast.Attribute) else None
        if alias is not None:
            _bind(facts, name, Binding("alias", alias, stmt.lineno))
        else:
            _bind(facts, name, Binding("value", f"{facts.name}.{name}", stmt.lineno))


def _string_list(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.List | ast.Tuple):
        names = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return names if len(names) == len(node.elts) else None
    return None


def _guards(body: list[ast.stmt]) -> dict[str, set[str]]:
    """Names bound by module-level ``try: import x ... except ImportError`` blocks -> the packages they stand for.

    Both the imported names and the flags set in the block (``HAS_SERIAL = True`` / ``False`` in the handler)
    map to the optional package, so a method that reads ``HAS_SERIAL`` or uses ``serial`` needs pyserial.
    PLR imports cleanly without any extra precisely because these imports are guarded.
    """
    guards: dict[str, set[str]] = {}
    for node in module_statements(body):
        if not isinstance(node, ast.Try | ast.TryStar) or not _catches_import_error(node):
            continue
        packages: set[str] = set()
        names: set[str] = set()
        for stmt in node.body:
            for sub in walk(stmt):
                if isinstance(sub, ast.Import):
                    packages.update(a.name.split(".")[0] for a in sub.names)
                    names.update((a.asname or a.name).split(".")[0] for a in sub.names)
                elif isinstance(sub, ast.ImportFrom) and sub.level == 0 and sub.module:
                    packages.add(sub.module.split(".")[0])
                    names.update(a.asname or a.name for a in sub.names)
        if not packages:
            continue
        for stmt in [*node.body, *(s for h in node.handlers for s in h.body)]:
            for sub in walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        for handler in node.handlers:
            if handler.name:
                names.add(handler.name)
        for name in names:
            guards.setdefault(name, set()).update(packages)
    return guards


def _catches_import_error(node: ast.Try | ast.TryStar) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any((dotted(t) or "").split(".")[-1] in _IMPORT_ERRORS for t in types):
            return True
    return False
