"""Capabilities a protocol needs from each machine parameter, from the methods it calls on it.

Calls are found anywhere in the function body (``await lh.aspirate96(...)``, ``lh.move_plate(...)`` inside
loops or nested helpers), also through simple local aliases (``handler = lh``). A method the frontend does not
have is a warning: it will fail at run time.
"""

from __future__ import annotations

import libcst as cst

from praxis_discovery.analysis.capabilities import capability_for
from praxis_discovery.analysis.source import SourceContext


class _CallCollector(cst.CSTVisitor):
    def __init__(self, params: set[str]) -> None:
        self.aliases = {p: p for p in params}
        self.calls: list[tuple[str, str, cst.Call]] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Name) and node.value.value in self.aliases:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.aliases[target.target.value] = self.aliases[node.value.value]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in self.aliases:
            self.calls.append((self.aliases[func.value.value], func.attr.value, node))


def infer_capabilities(
    body: cst.BaseSuite,
    machines: dict[str, tuple[str | None, set[str], str]],
    ctx: SourceContext,
) -> dict[str, list[str]]:
    """``machines``: param -> (category, known public methods, frontend name). Returns param -> capabilities."""
    collector = _CallCollector(set(machines))
    body.visit(collector)
    found: dict[str, list[str]] = {name: [] for name in machines}
    for param, method, call in collector.calls:
        category, methods, frontend = machines[param]
        if methods and method not in methods and not method.startswith("_"):
            ctx.warning(call, f"{frontend} has no method {method!r} (parameter {param!r})")
        capability = capability_for(category, method)
        if capability is not None and capability not in found[param]:
            found[param].append(capability)
    return {name: sorted(caps) for name, caps in found.items()}
