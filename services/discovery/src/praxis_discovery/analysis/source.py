"""Positions, source text and literal values of libcst nodes, and the diagnostics list of one analysis.

Columns are 1-based (as editors, ruff and mypy show them); libcst positions are 0-based and are shifted here.
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from praxis_contracts.protocols import Diagnostic


class SourceContext:
    def __init__(self, module: cst.Module) -> None:
        self.wrapper = MetadataWrapper(module)
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.diagnostics: list[Diagnostic] = []

    def position(self, node: cst.CSTNode) -> tuple[int | None, int | None]:
        found: CodeRange | None = self.positions.get(node)
        if found is None:
            return None, None
        return found.start.line, found.start.column + 1

    def error(self, node: cst.CSTNode, message: str) -> None:
        line, column = self.position(node)
        self.diagnostics.append(Diagnostic(severity="error", line=line, column=column, message=message))

    def warning(self, node: cst.CSTNode, message: str) -> None:
        line, column = self.position(node)
        self.diagnostics.append(Diagnostic(severity="warning", line=line, column=column, message=message))

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()

    def literal(self, node: cst.CSTNode) -> tuple[bool, Any]:
        """``(True, value)`` for a JSON-compatible literal (tuples -> lists), else ``(False, None)``."""
        return literal_value(self.code(node))


def literal_value(code: str) -> tuple[bool, Any]:
    try:
        value = ast.literal_eval(code)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    return _jsonable(value)


def _jsonable(value: Any) -> tuple[bool, Any]:
    if value is None or isinstance(value, bool | int | str):
        return True, value
    if isinstance(value, float):
        return value == value and abs(value) != float("inf"), value
    if isinstance(value, list | tuple):
        items = [_jsonable(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        pairs = {k: _jsonable(v) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None
