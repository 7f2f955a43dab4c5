"""Constructor and factory signatures as :class:`Param` lists (what a user must configure: port, serial, host...)."""

from __future__ import annotations

import ast

from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.model import Param, ParamKind
from praxis_discovery.catalog.syntax import literal


def function_params(node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool = False) -> list[Param]:
    """Parameters in declaration order; ``self``/``cls`` dropped for methods."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[Param] = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        if method and i == 0:
            continue
        params.append(_param(arg, default, "positional"))
    if args.vararg is not None:
        params.append(_variadic(args.vararg, "var_positional"))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(_param(arg, kw_default, "keyword"))
    if args.kwarg is not None:
        params.append(_variadic(args.kwarg, "var_keyword"))
    return params


def _param(arg: ast.arg, default: ast.expr | None, kind: ParamKind) -> Param:
    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
    if default is None:
        return Param(name=arg.arg, type=annotation, required=True, kind=kind)
    ok, value = literal(default)
    return Param(
        name=arg.arg,
        type=annotation,
        default=value if ok else None,
        default_repr=None if ok else ast.unparse(default),
        required=False,
        kind=kind,
    )


def _variadic(arg: ast.arg, kind: ParamKind) -> Param:
    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
    return Param(name=arg.arg, type=annotation, required=False, kind=kind)


def _is_passthrough(params: list[Param]) -> bool:
    """``def __init__(self, *args, **kwargs)``: the signature that matters is the next one in the MRO."""
    return bool(params) and all(p.kind in ("var_positional", "var_keyword") for p in params)


def init_node(index: PackageIndex, fqn: str) -> tuple[str, ast.FunctionDef | ast.AsyncFunctionDef] | None:
    """The ``__init__`` that actually defines the signature of ``fqn`` (skipping pass-through aliases)."""
    for klass in index.mro(fqn):
        facts = index.classes.get(klass)
        if facts is None:
            continue
        node = facts.method("__init__")
        if node is None:
            continue
        if _is_passthrough(function_params(node, method=True)):
            continue
        return klass, node
    return None


def constructor_params(index: PackageIndex, fqn: str) -> list[Param]:
    found = init_node(index, fqn)
    return function_params(found[1], method=True) if found else []
