"""Type annotations of protocol parameters: a user value (``float``, ``Literal[...]``, ``list[float]``) or an
asset (a PLR machine or resource class), with ``Optional``/``X | None``, unions, ``list[Well]``-style selectors
and ``Annotated[...]`` constraints.

Names are resolved through the file's own imports and then through the catalog's re-export index, so
``from pylabrobot.resources import Plate`` gives ``pylabrobot.resources.plate.Plate``. Anything that is neither a
builtin/typing type nor a PLR machine or resource is an error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import libcst as cst

from praxis_discovery.analysis.constraints import Constraints, read_constraints
from praxis_discovery.analysis.imports import FileImports
from praxis_discovery.analysis.source import SourceContext, dotted_name, literal_value
from praxis_discovery.catalog.model import Catalog, FrontendEntry, ResourceEntry

USER_SCALARS = frozenset({"builtins.int", "builtins.float", "builtins.str", "builtins.bool"})
_TYPING = ("typing.", "typing_extensions.")
_CONTAINERS = frozenset(
    {
        "builtins.list",
        "builtins.tuple",
        "builtins.set",
        "builtins.frozenset",
        "List",
        "Tuple",
        "Set",
        "FrozenSet",
        "Sequence",
        "MutableSequence",
        "Iterable",
        "Collection",
        "collections.abc.Sequence",
        "collections.abc.MutableSequence",
        "collections.abc.Iterable",
        "collections.abc.Collection",
    }
)
_MAPPINGS = frozenset({"builtins.dict", "Dict", "Mapping", "collections.abc.Mapping"})


@dataclass
class TypeInfo:
    """What an annotation means. ``kind`` is ``user``, ``asset`` or ``invalid`` (a diagnostic was emitted)."""

    kind: Literal["user", "asset", "invalid"]
    written: str = ""
    optional: bool = False
    many: bool = False
    plr_types: list[str] = field(default_factory=list)
    asset_kind: Literal["machine", "resource"] | None = None
    category: str | None = None
    choices: list[Any] | None = None
    constraints: Constraints = field(default_factory=Constraints)


def _canonical(qualified: str) -> str:
    """``typing.Optional`` / ``typing_extensions.Optional`` -> ``Optional``; builtins and others unchanged."""
    for prefix in _TYPING:
        if qualified.startswith(prefix):
            return qualified[len(prefix) :]
    return qualified


class AnnotationReader:
    def __init__(self, ctx: SourceContext, imports: FileImports, catalog: Catalog) -> None:
        self.ctx = ctx
        self.imports = imports
        self.catalog = catalog

    def qualify(self, node: cst.BaseExpression) -> str | None:
        name = dotted_name(node)
        if name is None:
            return None
        qualified = self.imports.qualify(name, self.catalog)
        return _canonical(qualified) if qualified is not None else None

    # -- entry point ---------------------------------------------------------------------------------------

    def read(self, annotation: cst.BaseExpression, anchor: cst.CSTNode | None = None) -> TypeInfo:
        """Interpret ``annotation``; diagnostics are placed at ``anchor`` (for string annotations) or the node."""
        where = anchor or annotation
        if isinstance(annotation, cst.SimpleString | cst.ConcatenatedString):
            text = annotation.evaluated_value
            if not isinstance(text, str):
                return self._invalid(where, "a string annotation must contain a type")
            try:
                parsed = cst.parse_expression(text)
            except cst.ParserSyntaxError:
                return self._invalid(where, f"string annotation {text!r} is not a valid type expression")
            info = self._read(parsed, where, text=True)
            info.written = text if info.kind == "user" and info.written == "" else info.written
            return info
        return self._read(annotation, where, text=False)

    def _invalid(self, where: cst.CSTNode, message: str) -> TypeInfo:
        self.ctx.error(where, message)
        return TypeInfo(kind="invalid")

    def _code(self, node: cst.BaseExpression, text: bool) -> str:
        return cst.Module(body=[]).code_for_node(node).strip() if text else self.ctx.code(node)

    def _read(self, node: cst.BaseExpression, where: cst.CSTNode, *, text: bool) -> TypeInfo:
        anchor = where if text else node
        if isinstance(node, cst.Subscript):
            return self._subscript(node, anchor, text)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return self._union(_flatten_bitor(node), anchor, text, self._code(node, text))
        if isinstance(node, cst.Name) and node.value == "None":
            return TypeInfo(kind="user", written="None")
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            return self.read(node, anchor if text else None)
        qualified = self.qualify(node)
        written = self._code(node, text)
        if qualified is None:
            name = dotted_name(node)
            if name is None:
                return self._invalid(anchor, f"unsupported type annotation {written!r}")
            if name.split(".")[0] in self.imports.local_definitions:
                return self._invalid(
                    anchor,
                    f"unknown type {written!r}: types defined in the protocol file cannot be parameters "
                    "(use a builtin, typing.Literal or a PyLabRobot class)",
                )
            return self._invalid(anchor, f"unknown type {written!r}: it is not imported and not a builtin")
        if qualified in USER_SCALARS or qualified in ("Any", "builtins.bytes"):
            if qualified == "Any":
                self.ctx.warning(anchor, "parameter typed Any: the console cannot validate its value")
            return TypeInfo(kind="user", written=written)
        if qualified in _CONTAINERS or qualified in _MAPPINGS:
            return TypeInfo(kind="user", written=written)
        if qualified.startswith("pylabrobot"):
            return self._plr(qualified, anchor, written)
        return self._invalid(
            anchor,
            f"unknown type {written!r} (resolves to {qualified}): parameters must be builtins, typing types or "
            "PyLabRobot machines/resources",
        )

    # -- PLR classes ---------------------------------------------------------------------------------------

    def _plr(self, qualified: str, anchor: cst.CSTNode, written: str) -> TypeInfo:
        fqn = self.catalog.resolve(qualified)
        if fqn is None:
            return self._invalid(
                anchor, f"{written!r} ({qualified}) does not exist in PyLabRobot {self.catalog.plr_version}"
            )
        entry = self.catalog.entry(fqn)
        if isinstance(entry, FrontendEntry):
            return TypeInfo(
                kind="asset", written=written, plr_types=[fqn], asset_kind="machine", category=entry.category
            )
        if isinstance(entry, ResourceEntry):
            if entry.callable == "factory":
                return self._invalid(
                    anchor,
                    f"{written!r} is a resource factory function, not a type: annotate with its class "
                    f"{entry.returns.rsplit('.', 1)[-1]} ({entry.returns})",
                )
            return TypeInfo(kind="asset", written=written, plr_types=[fqn], asset_kind="resource")
        if entry is not None:  # a backend
            return self._invalid(
                anchor,
                f"{written!r} is a backend: protocols take the frontend ({', '.join(entry.frontends[:3]) or 'none'})"
                " and the bench chooses the backend",
            )
        return self._invalid(
            anchor, f"{written!r} ({fqn}) is neither a PyLabRobot machine nor a resource, so it cannot be an asset"
        )

    # -- generics ------------------------------------------------------------------------------------------

    def _elements(self, node: cst.Subscript) -> list[cst.BaseExpression]:
        out = []
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                out.append(element.slice.value)
        return out

    def _subscript(self, node: cst.Subscript, anchor: cst.CSTNode, text: bool) -> TypeInfo:
        origin = self.qualify(node.value)
        args = self._elements(node)
        written = self._code(node, text)
        if origin is None:
            return self._read(node.value, anchor, text=text)  # reports the unknown name
        if origin == "Annotated" and args:
            inner = self._read(args[0], anchor if text else args[0], text=text)
            if inner.kind != "invalid":
                inner.constraints = self._constraints(args[1:], anchor, text)
            return inner
        if origin == "Optional" and len(args) == 1:
            inner = self._read(args[0], anchor if text else args[0], text=text)
            inner.optional = True
            if inner.kind == "user":
                inner.written = written
            return inner
        if origin == "Union":
            return self._union(args, anchor, text, written)
        if origin == "Literal":
            values = []
            for arg in args:
                ok, value = self._literal(arg, text)
                if not ok:
                    return self._invalid(anchor if text else arg, "Literal[...] values must be literals")
                values.append(value)
            return TypeInfo(kind="user", written=written, choices=values)
        if origin in _CONTAINERS:
            if not args:
                return TypeInfo(kind="user", written=written)
            element = self._read(args[0], anchor if text else args[0], text=text)
            if element.kind == "asset":
                element.many = True
                element.written = written
                return element
            if element.kind == "invalid":
                return element
            return TypeInfo(kind="user", written=written)
        if origin in _MAPPINGS:
            for arg in args:
                sub = self._read(arg, anchor if text else arg, text=text)
                if sub.kind == "asset":
                    return self._invalid(anchor, "machines and resources cannot be dictionary keys or values")
                if sub.kind == "invalid":
                    return sub
            return TypeInfo(kind="user", written=written)
        if origin.startswith("pylabrobot"):
            return self._plr(origin, anchor, written)  # a generic PLR class, e.g. ItemizedResource[Well]
        return self._invalid(anchor, f"unsupported generic type {written!r}")

    def _union(self, members: list[cst.BaseExpression], anchor: cst.CSTNode, text: bool, written: str) -> TypeInfo:
        infos = [self._read(m, anchor if text else m, text=text) for m in members]
        if any(i.kind == "invalid" for i in infos):
            return TypeInfo(kind="invalid")
        optional = any(i.written == "None" and i.kind == "user" for i in infos)
        rest = [i for i in infos if not (i.written == "None" and i.kind == "user")]
        if not rest:
            return self._invalid(anchor, "a parameter cannot be typed None")
        assets = [i for i in rest if i.kind == "asset"]
        if assets and len(assets) != len(rest):
            return self._invalid(anchor, f"{written!r} mixes PyLabRobot assets and plain values")
        if not assets:
            return TypeInfo(kind="user", written=written, optional=optional)
        kinds = {a.asset_kind for a in assets}
        if len(kinds) > 1:
            return self._invalid(anchor, f"{written!r} mixes machines and resources")
        first = assets[0]
        many = {a.many for a in assets}
        if len(many) > 1:
            return self._invalid(anchor, f"{written!r} mixes single assets and lists of assets")
        types = [t for a in assets for t in a.plr_types]
        return TypeInfo(
            kind="asset",
            written=written,
            optional=optional or any(a.optional for a in assets),
            many=first.many,
            plr_types=list(dict.fromkeys(types)),
            asset_kind=first.asset_kind,
            category=first.category,
        )

    def _literal(self, node: cst.BaseExpression, text: bool) -> tuple[bool, Any]:
        return literal_value(self._code(node, text))

    def _constraints(self, meta: list[cst.BaseExpression], anchor: cst.CSTNode, text: bool) -> Constraints:
        return read_constraints(
            self.ctx,
            self.qualify,
            lambda node: self._code(node, text),
            meta,
            lambda node: anchor if text else node,
        )


def _flatten_bitor(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return [*_flatten_bitor(node.left), *_flatten_bitor(node.right)]
    return [node]
