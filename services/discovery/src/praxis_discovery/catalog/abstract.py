"""Static ``inspect.isabstract``: which classes still have abstract methods, computed through the MRO.

Python's rule (``ABCMeta.__new__``): a name is abstract when the first class in the MRO that defines it marks it
``@abstractmethod``; it only counts when the metaclass is ``ABCMeta`` (some class in the MRO is ``abc.ABC`` or
declares ``metaclass=ABCMeta``).
"""

from __future__ import annotations

import ast

from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.parse import ClassFacts
from praxis_discovery.catalog.syntax import dotted, module_statements

_ABSTRACT_DECORATORS = frozenset({"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod"})


def own_members(facts: ClassFacts) -> dict[str, bool]:
    """Names defined in the class body -> whether that definition is abstract (the last definition wins)."""
    members: dict[str, bool] = {}
    for stmt in module_statements(facts.node.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            decorators = [dotted(d) or "" for d in stmt.decorator_list]
            if any(d.rsplit(".", 1)[-1] in ("setter", "getter", "deleter") for d in decorators):
                continue  # ``@x.setter`` keeps the abstractness of the property's getter
            members[stmt.name] = any(d.rsplit(".", 1)[-1] in _ABSTRACT_DECORATORS for d in decorators)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    members[target.id] = False
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
            members[stmt.target.id] = False
    return members


class AbstractnessOracle:
    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self._members: dict[str, dict[str, bool]] = {}

    def members(self, fqn: str) -> dict[str, bool]:
        # A plain dict, not functools.cache on a bound method: that would make a reference cycle that keeps
        # every AST alive until a (1.5 s) full garbage collection.
        if fqn not in self._members:
            facts = self.index.classes.get(fqn)
            self._members[fqn] = own_members(facts) if facts is not None else {}
        return self._members[fqn]

    def has_abc_meta(self, fqn: str) -> bool:
        for klass in self.index.mro(fqn):
            if klass in ("abc.ABC",):
                return True
            facts = self.index.classes.get(klass)
            if facts is not None and facts.metaclass is not None:
                meta = self.index.resolve_local(facts.module, facts.metaclass) or facts.metaclass
                if meta.endswith("ABCMeta"):
                    return True
        return False

    def abstract_methods(self, fqn: str) -> set[str]:
        mro = self.index.mro(fqn)
        candidates = {name for klass in mro for name, abstract in self.members(klass).items() if abstract}
        remaining: set[str] = set()
        for name in candidates:
            for klass in mro:
                members = self.members(klass)
                if name in members:
                    if members[name]:
                        remaining.add(name)
                    break
        return remaining

    def is_abstract(self, fqn: str) -> bool:
        return self.has_abc_meta(fqn) and bool(self.abstract_methods(fqn))

    def public_methods(self, fqn: str) -> list[str]:
        names: set[str] = set()
        for klass in self.index.mro(fqn):
            facts = self.index.classes.get(klass)
            if facts is None:
                continue
            for stmt in module_statements(facts.node.body):
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and not stmt.name.startswith("_"):
                    names.add(stmt.name)
        return sorted(names)
