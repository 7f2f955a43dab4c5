"""Recognising ``@protocol`` and reading its arguments without running them.

A decorator counts only when it resolves, through the file's imports, to ``praxis_protocol.protocol``:
``from praxis_protocol import protocol [as p]``, ``import praxis_protocol as pp`` + ``@pp.protocol(...)``, or
``from praxis_protocol.decorator import protocol``; with or without a call. Arguments must be literals (or
``DataView(...)``/``SetupInstruction(...)`` calls with literal arguments), because discovery never executes the
file; anything else is an error at its position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from praxis_discovery.analysis.imports import FileImports
from praxis_discovery.analysis.source import SourceContext, dotted_name
from praxis_discovery.catalog.model import Catalog

PROTOCOL_DECORATORS = frozenset({"praxis_protocol.protocol", "praxis_protocol.decorator.protocol"})
_KNOWN_ARGS = ("name", "version", "description", "setup_instructions", "data_views", "estimated_duration_s", "tags")


@dataclass
class ProtocolMeta:
    name: str | None = None
    version: str = "0.1.0"
    description: str = ""
    setup_instructions: list[str] = field(default_factory=list)
    data_views: list[dict[str, Any]] = field(default_factory=list)
    estimated_duration_s: float | None = None
    tags: list[str] = field(default_factory=list)
    ok: bool = True


def find_protocol_decorator(
    node: cst.FunctionDef, imports: FileImports, catalog: Catalog, ctx: SourceContext
) -> cst.Decorator | None:
    """The ``@protocol`` decorator of a function, or None. Warns about look-alikes not from praxis_protocol."""
    for decorator in node.decorators:
        expr = decorator.decorator
        target = expr.func if isinstance(expr, cst.Call) else expr
        name = dotted_name(target)
        if name is None:
            continue
        qualified = imports.qualify(name, catalog)
        if qualified in PROTOCOL_DECORATORS:
            return decorator
        if name.rsplit(".", 1)[-1] == "protocol":
            why = f"resolves to {qualified}" if qualified else "is not imported"
            ctx.warning(
                decorator,
                f"@{name} {why}, not praxis_protocol.protocol: {node.name.value} is not registered as a protocol",
            )
    return None


def read_decorator(
    decorator: cst.Decorator, imports: FileImports, catalog: Catalog, ctx: SourceContext
) -> ProtocolMeta:
    meta = ProtocolMeta()
    call = decorator.decorator
    if not isinstance(call, cst.Call):
        return meta
    for position, arg in enumerate(call.args):
        if arg.star:
            ctx.error(arg, "@protocol arguments cannot be unpacked (*args/**kwargs): discovery reads them statically")
            meta.ok = False
            continue
        key = arg.keyword.value if arg.keyword is not None else ("name" if position == 0 else None)
        if key is None:
            ctx.error(arg, "@protocol takes only the name positionally; pass the rest as keywords")
            meta.ok = False
            continue
        if key not in _KNOWN_ARGS:
            ctx.error(arg, f"@protocol has no argument {key!r} (known: {', '.join(_KNOWN_ARGS)})")
            meta.ok = False
            continue
        if not _read_arg(key, arg.value, meta, imports, catalog, ctx):
            meta.ok = False
    return meta


def _read_arg(
    key: str, value: cst.BaseExpression, meta: ProtocolMeta, imports: FileImports, catalog: Catalog, ctx: SourceContext
) -> bool:
    if key in ("setup_instructions", "data_views"):
        return _read_list(key, value, meta, imports, catalog, ctx)
    ok, literal = ctx.literal(value)
    if not ok:
        ctx.error(value, f"@protocol({key}=...) must be a literal, got {ctx.code(value)!r}")
        return False
    if key in ("name", "version", "description"):
        if literal is None and key == "name":
            return True
        if not isinstance(literal, str):
            ctx.error(value, f"@protocol({key}=...) must be a string")
            return False
        setattr(meta, key, literal)
    elif key == "estimated_duration_s":
        if literal is not None and (isinstance(literal, bool) or not isinstance(literal, int | float)):
            ctx.error(value, "@protocol(estimated_duration_s=...) must be a number of seconds")
            return False
        meta.estimated_duration_s = float(literal) if literal is not None else None
    elif key == "tags":
        if not isinstance(literal, list) or not all(isinstance(t, str) for t in literal):
            ctx.error(value, "@protocol(tags=...) must be a list of strings")
            return False
        meta.tags = literal
    return True


def _read_list(
    key: str, value: cst.BaseExpression, meta: ProtocolMeta, imports: FileImports, catalog: Catalog, ctx: SourceContext
) -> bool:
    if not isinstance(value, cst.List | cst.Tuple):
        ctx.error(value, f"@protocol({key}=...) must be a literal list")
        return False
    ok = True
    for element in value.elements:
        if isinstance(element, cst.StarredElement):
            ctx.error(element, f"@protocol({key}=...) cannot unpack")
            ok = False
            continue
        item = element.value
        if key == "setup_instructions":
            text = _instruction(item, imports, catalog, ctx)
            if text is None:
                ok = False
            else:
                meta.setup_instructions.append(text)
        else:
            view = _data_view(item, imports, catalog, ctx)
            if view is None:
                ok = False
            else:
                meta.data_views.append(view)
    return ok


def _call_kwargs(item: cst.Call, params: tuple[str, ...], ctx: SourceContext) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for position, arg in enumerate(item.args):
        key = arg.keyword.value if arg.keyword is not None else (params[position] if position < len(params) else None)
        ok, literal = ctx.literal(arg.value)
        if key is None or key not in params or arg.star or not ok:
            ctx.error(arg, f"unsupported argument {ctx.code(arg)!r}: use literal {', '.join(params)}")
            return None
        values[key] = literal
    return values


def _instruction(item: cst.BaseExpression, imports: FileImports, catalog: Catalog, ctx: SourceContext) -> str | None:
    ok, literal = ctx.literal(item)
    if ok and isinstance(literal, str):
        return literal
    if isinstance(item, cst.Call) and _is(item.func, "SetupInstruction", imports, catalog):
        values = _call_kwargs(item, ("text", "resource"), ctx)
        if values is None or not isinstance(values.get("text"), str):
            return None
        text: str = values["text"]
        return text
    ctx.error(item, "a setup instruction must be a string or SetupInstruction(text, resource=...)")
    return None


def _data_view(
    item: cst.BaseExpression, imports: FileImports, catalog: Catalog, ctx: SourceContext
) -> dict[str, Any] | None:
    if isinstance(item, cst.Call) and _is(item.func, "DataView", imports, catalog):
        values = _call_kwargs(item, ("name", "kind", "description"), ctx)
        if values is None:
            return None
        if not isinstance(values.get("name"), str):
            ctx.error(item, "DataView needs a literal name")
            return None
        return {
            "name": values["name"],
            "kind": values.get("kind", "table"),
            "description": values.get("description", ""),
        }
    ok, literal = ctx.literal(item)
    if ok and isinstance(literal, dict) and isinstance(literal.get("name"), str):
        return {"kind": "table", "description": "", **literal}
    ctx.error(item, "a data view must be DataView(name, kind=..., description=...) with literal arguments")
    return None


def _is(func: cst.BaseExpression, marker: str, imports: FileImports, catalog: Catalog) -> bool:
    name = dotted_name(func)
    qualified = imports.qualify(name, catalog) if name else None
    return qualified in (f"praxis_protocol.{marker}", f"praxis_protocol.decorator.{marker}")
