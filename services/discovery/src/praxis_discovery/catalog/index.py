"""Name resolution over the parsed package: follows imports, relative imports, aliases, ``__init__`` re-exports
and star imports to the module that *defines* a name, and computes class MROs from resolved bases.

libcst's ``FullyQualifiedNameProvider`` stops at re-exports (``pylabrobot.shaking.Shaker``) and is ~15x slower
(docs/discovery.md, Facts about PyLabRobot 0.2.2); this resolver reaches ``pylabrobot.shaking.shaker.Shaker``.
Results for names outside the package are returned as the dotted external path (``abc.ABC``), builtins as
``builtins.<name>``.
"""

from __future__ import annotations

import builtins
from functools import cached_property

from praxis_discovery.catalog.parse import ClassFacts, FunctionFacts, ModuleFacts

_BUILTINS = frozenset(dir(builtins))


class PackageIndex:
    def __init__(self, modules: dict[str, ModuleFacts], package: str = "pylabrobot") -> None:
        self.modules = modules
        self.package = package
        self._names: dict[tuple[str, str], str | None] = {}
        self._mro: dict[str, list[str]] = {}

    # -- lookups -------------------------------------------------------------------------------------------

    @cached_property
    def classes(self) -> dict[str, ClassFacts]:
        return {c.fqn: c for m in self.modules.values() for c in m.classes.values()}

    @cached_property
    def functions(self) -> dict[str, FunctionFacts]:
        return {f.fqn: f for m in self.modules.values() for f in m.functions.values()}

    def is_internal(self, dotted: str) -> bool:
        return dotted == self.package or dotted.startswith(self.package + ".")

    # -- resolution ----------------------------------------------------------------------------------------

    def resolve(self, dotted: str) -> str | None:
        """Fully qualified defining name (or module name) of an absolute dotted path; None if unresolvable."""
        return self._resolve(dotted, frozenset())

    def resolve_local(self, module: str, expr: str) -> str | None:
        """Resolve a dotted expression as written inside ``module`` (``Shaker``, ``abc.ABC``, ``backend.X``)."""
        head, _, rest = expr.partition(".")
        facts = self.modules.get(module)
        target = self._name(module, head, frozenset()) if facts is not None else None
        if target is None:
            if head in _BUILTINS:
                return f"builtins.{expr}"
            return None
        return self._resolve(f"{target}.{rest}", frozenset()) if rest else target

    def _resolve(self, dotted: str, seen: frozenset[tuple[str, str]]) -> str | None:
        if dotted in self.modules:
            return dotted
        if not self.is_internal(dotted):
            return dotted
        parent, _, name = dotted.rpartition(".")
        if not parent:
            return None
        if parent in self.modules:
            return self._name(parent, name, seen)
        head = self._resolve(parent, seen)
        if head is None:
            return None
        if head in self.modules:
            return self._name(head, name, seen)
        return f"{head}.{name}"

    def _name(self, module: str, name: str, seen: frozenset[tuple[str, str]]) -> str | None:
        key = (module, name)
        if key in self._names:
            return self._names[key]
        if key in seen:
            return None
        result = self._lookup(module, name, seen | {key})
        self._names[key] = result
        return result

    def _lookup(self, module: str, name: str, seen: frozenset[tuple[str, str]]) -> str | None:
        facts = self.modules[module]
        binding = facts.bindings.get(name)
        if binding is not None:
            if binding.kind == "import":
                return self._resolve(binding.target, seen)
            if binding.kind == "alias":
                head, _, rest = binding.target.partition(".")
                if head == name and not rest:
                    return None
                base = self._name(module, head, seen) if head != name else None
                if base is None:
                    return f"builtins.{binding.target}" if head in _BUILTINS else None
                return self._resolve(f"{base}.{rest}", seen) if rest else base
            return binding.target
        for star in facts.stars:
            if star not in self.modules or not self._star_exports(star, name):
                continue
            found = self._name(star, name, seen)
            if found is not None:
                return found
        submodule = f"{module}.{name}"
        return submodule if submodule in self.modules else None

    def _star_exports(self, module: str, name: str) -> bool:
        facts = self.modules[module]
        if facts.all_names is not None:
            return name in facts.all_names
        return not name.startswith("_")

    def exports(self, module: str) -> dict[str, str]:
        """Every name importable from ``module`` (``from module import name``), resolved to its definition."""
        facts = self.modules[module]
        names: dict[str, str] = {}
        for name in self._visible_names(module, frozenset()):
            target = self._name(module, name, frozenset())
            if target is not None:
                names[name] = target
        for other in facts.classes.values():
            names.setdefault(other.name, other.fqn)
        return names

    def _visible_names(self, module: str, seen: frozenset[str]) -> set[str]:
        if module in seen or module not in self.modules:
            return set()
        facts = self.modules[module]
        names = set(facts.bindings)
        for star in facts.stars:
            star_facts = self.modules.get(star)
            if star_facts is None:
                continue
            if star_facts.all_names is not None:
                names.update(star_facts.all_names)
            else:
                names.update(n for n in self._visible_names(star, seen | {module}) if not n.startswith("_"))
        return names

    # -- classes -------------------------------------------------------------------------------------------

    def bases(self, fqn: str) -> list[str]:
        """Resolved bases of a package class; unresolvable ones are kept as ``?<expr>``."""
        facts = self.classes[fqn]
        out = []
        for expr in facts.base_exprs:
            out.append(self.resolve_local(facts.module, expr) or f"?{expr}")
        return out

    def mro(self, fqn: str) -> list[str]:
        """C3 linearisation over resolved bases; classes outside the package are leaves."""
        if fqn in self._mro:
            return self._mro[fqn]
        self._mro[fqn] = [fqn]  # cycle guard
        if fqn not in self.classes:
            return [fqn]
        bases = [b for b in self.bases(fqn) if b != "builtins.object"]
        result = [fqn, *_c3([self.mro(b) for b in bases] + [bases])]
        self._mro[fqn] = result
        return result

    def is_subclass(self, fqn: str, base: str) -> bool:
        return base in self.mro(fqn)


def _c3(sequences: list[list[str]]) -> list[str]:
    seqs = [list(s) for s in sequences if s]
    result: list[str] = []
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head in other[1:] for other in seqs):
                break
        else:  # inconsistent hierarchy: fall back to left-to-right, depth-first, de-duplicated
            for seq in seqs:
                result.extend(x for x in seq if x not in result)
            return result
        result.append(head)
        seqs = [[x for x in s if x != head] for s in seqs]
        seqs = [s for s in seqs if s]
    return result
