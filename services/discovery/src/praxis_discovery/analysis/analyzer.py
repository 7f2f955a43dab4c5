"""``analyze_source``: every ``@protocol`` function of a file as a :class:`ProtocolDefinition`, plus diagnostics.

The file is parsed with libcst and never imported or executed. A protocol is only emitted when everything about
it could be read exactly; otherwise the reasons are diagnostics (line, 1-based column, message) and the
definition is withheld rather than guessed.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
from typing import Any

import libcst as cst

from praxis_contracts.protocols import AssetRequirement, Diagnostic, ParameterSpec, ProtocolDefinition
from praxis_discovery.analysis.annotations import AnnotationReader, TypeInfo
from praxis_discovery.analysis.decorator import PROTOCOL_DECORATORS, find_protocol_decorator, read_decorator
from praxis_discovery.analysis.imports import FileImports, collect_imports
from praxis_discovery.analysis.model import Analysis
from praxis_discovery.analysis.source import SourceContext, dotted_name
from praxis_discovery.analysis.usage import infer_capabilities
from praxis_discovery.catalog.model import Catalog

logger = logging.getLogger(__name__)


def analyze_source(source: str, filename: str, catalog: Catalog) -> Analysis:
    """Analyse one protocol file against ``catalog``. Never raises for bad input; problems become diagnostics.

    A bug in the analyser itself also becomes an error diagnostic (naming the exception) rather than an
    exception, so one odd upload cannot wedge the registration consumer in redelivery.
    """
    try:
        return _analyze(source, filename, catalog)
    except Exception as exc:
        logger.exception("protocol analysis failed for %s", filename)
        return Analysis(
            diagnostics=[
                Diagnostic(line=1, column=1, message=f"internal error while analysing: {type(exc).__name__}: {exc}")
            ]
        )


def _analyze(source: str, filename: str, catalog: Catalog) -> Analysis:
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return Analysis(diagnostics=[_syntax_diagnostic(source, filename, exc)])
    except RecursionError:
        return Analysis(diagnostics=[Diagnostic(line=1, column=1, message="file is nested too deeply to parse")])
    ctx = SourceContext(module)
    imports = collect_imports(ctx, catalog)
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    protocols: dict[str, ProtocolDefinition] = {}
    decorated = 0
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        decorator = find_protocol_decorator(stmt, imports, catalog, ctx)
        if decorator is None:
            continue
        decorated += 1
        definition = _protocol(stmt, decorator, imports, catalog, ctx, digest, filename)
        if definition is None:
            continue
        if definition.function in protocols:
            ctx.warning(stmt.name, f"{definition.function} is defined again; the later definition wins")
        protocols[definition.function] = definition
    misplaced = _misplaced_protocols(ctx, imports, catalog)
    if decorated == 0 and not misplaced:
        ctx.diagnostics.append(
            Diagnostic(
                line=1,
                column=1,
                message="no protocol found: decorate an async function with @protocol from praxis_protocol",
            )
        )
    diagnostics = sorted(ctx.diagnostics, key=lambda d: (d.line or 0, d.column or 0))
    return Analysis(protocols=list(protocols.values()), diagnostics=diagnostics)


def _misplaced_protocols(ctx: SourceContext, imports: FileImports, catalog: Catalog) -> int:
    """``@protocol`` on a method or a function nested in a block: the executor only loads module-level ones."""
    finder = _NestedProtocols()
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.FunctionDef):
            stmt.visit(finder)
        else:
            stmt.body.visit(finder)
    count = 0
    for node in finder.functions:
        if any(
            (name := dotted_name(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator))
            and imports.qualify(name, catalog) in PROTOCOL_DECORATORS
            for d in node.decorators
        ):
            ctx.error(node.name, f"protocol {node.name.value!r} must be a module-level function")
            count += 1
    return count


class _NestedProtocols(cst.CSTVisitor):
    def __init__(self) -> None:
        self.functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)


def _syntax_diagnostic(source: str, filename: str, exc: cst.ParserSyntaxError) -> Diagnostic:
    """Where the syntax error is. libcst 1.9's ``raw_line``/``raw_column`` can point at the wrong line (an error
    in ``def f(a: int = ):`` on line 1 is reported on line 2), so the location comes from CPython's own parser
    when it also rejects the file -- the executor will hit exactly that error -- and otherwise from the
    ``error at L:C`` in libcst's message."""
    try:
        ast.parse(source, filename=filename or "<protocol>")
    except SyntaxError as py_exc:
        column = py_exc.offset if py_exc.offset is not None else 1
        return Diagnostic(line=py_exc.lineno, column=max(column, 1), message=f"syntax error: {py_exc.msg}")
    except (ValueError, RecursionError):
        pass
    match = re.search(r"error at (\d+):(\d+)", exc.message)
    if match:
        line, column = int(match.group(1)), max(int(match.group(2)), 1)
    else:
        line, column = exc.raw_line, exc.raw_column + 1
    reason = exc.message.split(": ", 1)[-1] if exc.message else "invalid syntax"
    return Diagnostic(line=line, column=column, message=f"syntax error: {reason}")


def _protocol(
    node: cst.FunctionDef,
    decorator: cst.Decorator,
    imports: FileImports,
    catalog: Catalog,
    ctx: SourceContext,
    digest: str,
    filename: str,
) -> ProtocolDefinition | None:
    function = node.name.value
    errors_before = _error_count(ctx)
    if node.asynchronous is None:
        ctx.error(node.name, f"protocol {function!r} must be an async function (async def)")
    meta = read_decorator(decorator, imports, catalog, ctx)
    reader = AnnotationReader(ctx, imports, catalog)
    parameters: list[ParameterSpec] = []
    assets: list[AssetRequirement] = []
    machines: dict[str, tuple[str | None, set[str], str]] = {}
    for param in _parameters(node, ctx):
        read = _parameter(param, reader, catalog, ctx)
        if isinstance(read, ParameterSpec):
            parameters.append(read)
        elif isinstance(read, AssetRequirement):
            assets.append(read)
            if read.kind == "machine":
                frontend = catalog.frontend(read.plr_type)
                methods = set(frontend.methods) if frontend else set()
                machines[read.name] = (read.category, methods, frontend.name if frontend else read.plr_type)
    if not meta.ok or _error_count(ctx) > errors_before:
        return None
    capabilities = infer_capabilities(node.body, machines, ctx)
    assets = [a.model_copy(update={"capabilities": capabilities.get(a.name, [])}) for a in assets]
    return ProtocolDefinition(
        id=f"{digest[:12]}-{function}",
        name=meta.name or function,
        version=meta.version,
        description=meta.description or _docstring_line(node),
        function=function,
        filename=filename,
        source_hash=digest,
        parameters=parameters,
        assets=assets,
        capabilities=capabilities,
        setup_instructions=meta.setup_instructions,
        data_views=meta.data_views,
        estimated_duration_s=meta.estimated_duration_s,
    )


def _error_count(ctx: SourceContext) -> int:
    return sum(1 for d in ctx.diagnostics if d.severity == "error")


def _docstring_line(node: cst.FunctionDef) -> str:
    doc = node.get_docstring(clean=True)
    return doc.strip().split("\n", 1)[0] if doc else ""


def _parameters(node: cst.FunctionDef, ctx: SourceContext) -> list[cst.Param]:
    params = node.params
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            ctx.error(star, f"protocol parameters cannot be variadic (*{star.name.value} / **{star.name.value})")
    return [*params.posonly_params, *params.params, *params.kwonly_params]


def _parameter(
    param: cst.Param, reader: AnnotationReader, catalog: Catalog, ctx: SourceContext
) -> ParameterSpec | AssetRequirement | None:
    name = param.name.value
    if param.annotation is None:
        ctx.error(param.name, f"parameter {name!r} needs a type annotation (a value type or a PyLabRobot class)")
        return None
    info = reader.read(param.annotation.annotation)
    if info.kind == "invalid":
        return None
    if info.kind == "user" and info.written == "None":
        ctx.error(param.annotation.annotation, f"parameter {name!r} cannot be typed None")
        return None
    if info.kind == "asset":
        return _asset(name, param, info, ctx)
    return _user(name, param, info, ctx)


def _asset(name: str, param: cst.Param, info: TypeInfo, ctx: SourceContext) -> AssetRequirement | None:
    optional = info.optional
    if param.default is not None:
        ok, value = ctx.literal(param.default)
        if not ok or value is not None:
            ctx.error(param.default, f"asset parameter {name!r} can only default to None (the platform provides it)")
            return None
        optional = True
    return AssetRequirement(
        name=name,
        plr_type=info.plr_types[0],
        kind=info.asset_kind or "resource",
        category=info.category if info.asset_kind == "machine" else None,
        optional=optional,
        many=info.many,
        alternatives=info.plr_types[1:],
    )


def _user(name: str, param: cst.Param, info: TypeInfo, ctx: SourceContext) -> ParameterSpec | None:
    constraints = info.constraints
    choices = constraints.choices if constraints.choices is not None else info.choices
    default: Any = None
    required = param.default is None
    if param.default is not None:
        ok, default = ctx.literal(param.default)
        if not ok:
            ctx.error(param.default, f"default of {name!r} must be a literal, got {ctx.code(param.default)!r}")
            return None
        _check_default(name, param.default, default, info, choices, ctx)
    return ParameterSpec(
        name=name,
        type=info.written,
        default=default,
        required=required,
        minimum=constraints.minimum,
        maximum=constraints.maximum,
        choices=choices,
        unit=constraints.unit,
        description=constraints.description,
    )


_SCALAR_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _check_default(
    name: str, node: cst.CSTNode, value: Any, info: TypeInfo, choices: list[Any] | None, ctx: SourceContext
) -> None:
    """Warn when a default contradicts its own declaration (it would be refused if a user typed it)."""
    if value is None:
        if not info.optional:
            ctx.warning(node, f"{name!r} defaults to None but its type {info.written!r} is not Optional")
        return
    base = info.written.removeprefix("Optional[").removesuffix("]").split("|")[0].strip()
    expected = _SCALAR_TYPES.get(base)
    if expected is not None and (not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected)):
        ctx.warning(node, f"default {value!r} of {name!r} is not a {base}")
    if choices is not None and value not in choices:
        ctx.warning(node, f"default {value!r} of {name!r} is not one of {choices}")
    constraints = info.constraints
    if isinstance(value, int | float) and not isinstance(value, bool):
        if constraints.minimum is not None and value < constraints.minimum:
            ctx.warning(node, f"default {value} of {name!r} is below its minimum {constraints.minimum}")
        if constraints.maximum is not None and value > constraints.maximum:
            ctx.warning(node, f"default {value} of {name!r} is above its maximum {constraints.maximum}")
