"""Facts read from the bodies of resource factories: sizes, counts, volumes, model, and whether calling the
factory needs the network or always raises.

Everything is literal-only: a value computed from an expression is reported as unknown (None), never guessed.
A factory that delegates (``return _cytomat_rack(name=..., site_height=9)``, or a deprecated alias returning the
new function) is followed up to two calls deep.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.syntax import (
    calls_in_order,
    dotted,
    first_unconditional_raise,
    integer,
    keyword,
    number,
    raise_message,
    text,
    unconditional_calls,
    walk,
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_DELEGATION_DEPTH = 2
_NETWORK_PREFIXES = ("urllib.request", "requests.", "http.client", "urllib3", "aiohttp", "httpx")


class BodyFacts:
    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self._network: dict[str, bool] = {}
        self._raises: dict[str, str | None] = {}
        self._must_provide: dict[str, dict[str, str]] = {}
        self._calls: dict[tuple[int, int], list[ast.Call]] = {}
        self._uncond: dict[int, list[ast.Call]] = {}
        self._every: dict[int, list[ast.Call]] = {}

    # -- delegation ----------------------------------------------------------------------------------------

    def _unconditional(self, node: FunctionNode) -> list[ast.Call]:
        key = id(node)
        if key not in self._uncond:
            self._uncond[key] = list(unconditional_calls(node.body))
        return self._uncond[key]

    def _all_calls(self, node: FunctionNode) -> list[ast.Call]:
        key = id(node)
        if key not in self._every:
            self._every[key] = calls_in_order(node)
        return self._every[key]

    def _callee_functions(self, module: str, node: FunctionNode) -> Iterator[tuple[str, FunctionNode]]:
        for call in self._unconditional(node):
            name = dotted(call.func)
            target = self.index.resolve_local(module, name) if name else None
            fn = self.index.functions.get(target or "")
            if fn is not None:
                yield fn.module, fn.node

    def _search(self, module: str, node: FunctionNode, depth: int = _DELEGATION_DEPTH) -> list[ast.Call]:
        """Calls in the body in source order, then in the bodies of the functions it delegates to (memoised:
        five facts are read from the same factory)."""
        key = (id(node), depth)
        cached = self._calls.get(key)
        if cached is not None:
            return cached
        calls = list(self._all_calls(node))
        if depth > 0:
            for callee_module, callee in self._callee_functions(module, node):
                calls.extend(self._search(callee_module, callee, depth - 1))
        self._calls[key] = calls
        return calls

    # -- geometry ------------------------------------------------------------------------------------------

    def sizes(self, module: str, node: FunctionNode) -> tuple[float | None, float | None, float | None]:
        """size_x/y/z of the first call passing all three (the outermost constructor, by source order)."""
        for call in self._search(module, node):
            kws = {k.arg for k in call.keywords}
            if {"size_x", "size_y", "size_z"} <= kws:
                return (
                    number(keyword(call, "size_x")),
                    number(keyword(call, "size_y")),
                    number(keyword(call, "size_z")),
                )
        return None, None, None

    def model(self, module: str, node: FunctionNode) -> str | None:
        """``model="..."`` or ``model=fn.__name__`` of the first call that passes a model."""
        for call in self._search(module, node):
            value = keyword(call, "model")
            if value is None:
                continue
            literal_text = text(value)
            if literal_text:
                return literal_text
            if isinstance(value, ast.Attribute) and value.attr == "__name__":
                return dotted(value.value)
            return None
        return None

    def item_count(self, module: str, node: FunctionNode) -> int | None:
        for call in self._search(module, node):
            nx, ny = integer(keyword(call, "num_items_x")), integer(keyword(call, "num_items_y"))
            if nx is not None and ny is not None:
                return nx * ny
        return None

    def max_volume(self, module: str, node: FunctionNode) -> float | None:
        for call in self._search(module, node):
            volume = number(keyword(call, "max_volume"))
            if volume is not None:
                return volume
        return None

    def tip_volume(self, module: str, node: FunctionNode) -> float | None:
        """``maximal_volume`` of the tip made by the rack's ``make_tip=`` function."""
        for call in self._search(module, node):
            maker = keyword(call, "make_tip")
            name = dotted(maker) if maker is not None else None
            if name is None:
                continue
            target = self.index.resolve_local(module, name)
            fn = self.index.functions.get(target or "")
            if fn is None:
                return None
            for tip_call in self._search(fn.module, fn.node):
                volume = number(keyword(tip_call, "maximal_volume"))
                if volume is not None:
                    return volume
            return None
        return None

    # -- behaviour -----------------------------------------------------------------------------------------

    def needs_network(self, fqn: str) -> bool:
        """Does calling the function (transitively) reach an HTTP client? (Opentrons labware is downloaded.)"""
        if fqn in self._network:
            return self._network[fqn]
        self._network[fqn] = False  # recursion guard
        fn = self.index.functions.get(fqn)
        result = False
        if fn is not None:
            for call in self._all_calls(fn.node):
                name = dotted(call.func)
                if name is None:
                    continue
                target = self.index.resolve_local(fn.module, name) or ""
                if target.startswith(_NETWORK_PREFIXES) or name.endswith("urlopen"):
                    result = True
                elif target in self.index.functions and self.needs_network(target):
                    result = True
                if result:
                    break
        self._network[fqn] = result
        return result

    def raises(self, fqn: str) -> str | None:
        """Why calling the function always raises, or None: a top-level ``raise``, a missing argument that a
        constructor insists on (``PlateHolder(pedestal_size_z=None)`` raises), or a callee that always raises."""
        if fqn in self._raises:
            return self._raises[fqn]
        self._raises[fqn] = None  # recursion guard
        fn = self.index.functions.get(fqn)
        reason = self._raise_reason(fn.module, fn.node) if fn is not None else None
        self._raises[fqn] = reason
        return reason

    def _raise_reason(self, module: str, node: FunctionNode) -> str | None:
        stmt = first_unconditional_raise(node.body)
        if stmt is not None:
            return raise_message(stmt)
        for call in self._unconditional(node):
            name = dotted(call.func)
            target = self.index.resolve_local(module, name) if name else None
            if target is None:
                continue
            if target in self.index.functions:
                reason = self.raises(target)
                if reason is not None:
                    return reason
            reason = self._missing_required(module, call, target)
            if reason is not None:
                return reason
        return None

    def _missing_required(self, module: str, call: ast.Call, target: str) -> str | None:
        """A class built without a parameter its ``__init__`` raises on when None; also through ``klass=C``."""
        classes = [target]
        klass_kw = keyword(call, "klass")
        if klass_kw is not None and dotted(klass_kw):
            classes.append(self.index.resolve_local(module, dotted(klass_kw) or "") or "")
        passes_all = any(k.arg is None for k in call.keywords)
        if passes_all:
            return None
        given = {k.arg for k in call.keywords}
        for klass in classes:
            for param, reason in self.must_provide(klass).items():
                if param not in given and not (
                    klass == target
                    and len(call.args) > 0
                    and _positional_covers(self.index, klass, param, len(call.args))
                ):
                    return reason
        return None

    def must_provide(self, fqn: str) -> dict[str, str]:
        """Parameters of a class's ``__init__`` that default to None but raise when left None."""
        if fqn in self._must_provide:
            return self._must_provide[fqn]
        found: dict[str, str] = {}
        facts = self.index.classes.get(fqn)
        init = facts.method("__init__") if facts is not None else None
        if init is not None:
            for stmt in walk(init):
                if not isinstance(stmt, ast.If) or not stmt.body or not isinstance(stmt.body[0], ast.Raise):
                    continue
                test = stmt.test
                if (
                    isinstance(test, ast.Compare)
                    and isinstance(test.left, ast.Name)
                    and len(test.ops) == 1
                    and isinstance(test.ops[0], ast.Is)
                    and isinstance(test.comparators[0], ast.Constant)
                    and test.comparators[0].value is None
                ):
                    found[test.left.id] = raise_message(stmt.body[0])
        self._must_provide[fqn] = found
        return found


def _positional_covers(index: PackageIndex, klass: str, param: str, count: int) -> bool:
    facts = index.classes.get(klass)
    init = facts.method("__init__") if facts is not None else None
    if init is None:
        return False
    names = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
    return param in names and names.index(param) < count
