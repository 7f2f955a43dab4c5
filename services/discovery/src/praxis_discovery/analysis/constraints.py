"""``Annotated[...]`` metadata of user parameters -> range, unit, description and choices.

Understood: ``praxis_protocol`` markers (``Range(1, 200)``, ``Unit("uL")``, ``Description("...")``,
``Choices("a", "b")``), ``annotated_types`` bounds (``Ge``, ``Gt``, ``Le``, ``Lt``, ``Interval``),
``pydantic.Field(ge=, le=, description=)`` and a bare string (taken as the description). Exclusive bounds
(``Gt``/``Lt``) are reported as inclusive minimum/maximum with a warning: the contract has no exclusive flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libcst as cst

from praxis_discovery.analysis.source import SourceContext, literal_value


@dataclass
class Constraints:
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    description: str | None = None
    choices: list[Any] | None = None


@dataclass
class _Call:
    args: list[Any]
    kwargs: dict[str, Any]


Qualify = Callable[[cst.BaseExpression], str | None]
Code = Callable[[cst.BaseExpression], str]


def read_constraints(
    ctx: SourceContext,
    qualify: Qualify,
    code: Code,
    meta: list[cst.BaseExpression],
    anchor: Callable[[cst.CSTNode], cst.CSTNode],
) -> Constraints:
    out = Constraints()
    for node in meta:
        where = anchor(node)
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            value = node.evaluated_value
            if isinstance(value, str):
                out.description = value
            continue
        if not isinstance(node, cst.Call):
            ctx.warning(where, f"ignored Annotated metadata {code(node)!r}")
            continue
        qualified = qualify(node.func) or ""
        marker = qualified.rsplit(".", 1)[-1]
        call = _evaluate(node, code)
        if call is None:
            ctx.error(where, f"{code(node)!r}: Annotated metadata arguments must be literals")
            continue
        if qualified.startswith("praxis_protocol."):
            _praxis(marker, call, out, ctx, where)
        elif qualified.startswith("annotated_types."):
            _annotated_types(marker, call, out, ctx, where)
        elif qualified in ("pydantic.Field", "pydantic.fields.Field"):
            _bounds(call.kwargs, out, ctx, where)
            if isinstance(call.kwargs.get("description"), str):
                out.description = call.kwargs["description"]
        else:
            ctx.warning(
                where, f"ignored Annotated metadata {code(node)!r} (not from praxis_protocol or annotated_types)"
            )
    if out.minimum is not None and out.maximum is not None and out.minimum > out.maximum:
        ctx.error(anchor(meta[0]), f"empty range: minimum {out.minimum} > maximum {out.maximum}")
    return out


def _evaluate(node: cst.Call, code: Code) -> _Call | None:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for arg in node.args:
        if arg.star:
            return None
        ok, value = literal_value(code(arg.value))
        if not ok:
            return None
        if arg.keyword is not None:
            kwargs[arg.keyword.value] = value
        else:
            args.append(value)
    return _Call(args, kwargs)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _praxis(marker: str, call: _Call, out: Constraints, ctx: SourceContext, where: cst.CSTNode) -> None:
    if marker == "Range":
        low = call.args[0] if len(call.args) > 0 else call.kwargs.get("min")
        high = call.args[1] if len(call.args) > 1 else call.kwargs.get("max")
        for bound in (low, high):
            if bound is not None and _number(bound) is None:
                ctx.error(where, f"Range bounds must be numbers, got {bound!r}")
                return
        out.minimum = _number(low) if low is not None else out.minimum
        out.maximum = _number(high) if high is not None else out.maximum
    elif marker == "Unit":
        value = call.args[0] if call.args else call.kwargs.get("symbol")
        out.unit = str(value) if value is not None else None
    elif marker == "Description":
        value = call.args[0] if call.args else call.kwargs.get("text")
        out.description = str(value) if value is not None else None
    elif marker == "Choices":
        out.choices = list(call.args)
    else:
        ctx.warning(where, f"praxis_protocol.{marker} is not a parameter constraint; ignored")


def _annotated_types(marker: str, call: _Call, out: Constraints, ctx: SourceContext, where: cst.CSTNode) -> None:
    value = _number(call.args[0]) if call.args else None
    if marker in ("Ge", "Gt") and value is not None:
        out.minimum = value
        if marker == "Gt":
            ctx.warning(where, f"exclusive bound Gt({call.args[0]}) is recorded as minimum {value}")
    elif marker in ("Le", "Lt") and value is not None:
        out.maximum = value
        if marker == "Lt":
            ctx.warning(where, f"exclusive bound Lt({call.args[0]}) is recorded as maximum {value}")
    elif marker == "Interval":
        _bounds(call.kwargs, out, ctx, where)
    else:
        ctx.warning(where, f"annotated_types.{marker} is not understood; ignored")


def _bounds(kwargs: dict[str, Any], out: Constraints, ctx: SourceContext, where: cst.CSTNode) -> None:
    for key in ("ge", "gt"):
        if _number(kwargs.get(key)) is not None:
            out.minimum = _number(kwargs[key])
            if key == "gt":
                ctx.warning(where, f"exclusive bound gt={kwargs[key]} is recorded as minimum")
    for key in ("le", "lt"):
        if _number(kwargs.get(key)) is not None:
            out.maximum = _number(kwargs[key])
            if key == "lt":
                ctx.warning(where, f"exclusive bound lt={kwargs[key]} is recorded as maximum")
