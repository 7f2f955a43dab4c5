"""Resource factories: the static scan agrees with importing PLR and calling every factory.

Every statically known value (kind, flags, literal sizes, model, item count, volume) must equal what the call
produced; unknown values (None) are allowed, wrong ones are not.
"""

from __future__ import annotations

import math
from typing import Any

from praxis_discovery.catalog import Catalog, ResourceEntry


def _factories(catalog: Catalog) -> dict[str, ResourceEntry]:
    return {r.fqn: r for r in catalog.resources if r.callable == "factory"}


def _deprecated(outcome: dict[str, Any]) -> bool:
    return bool(outcome["deprecation_warning"]) or (
        outcome["status"] == "raises" and "deprecat" in outcome.get("error", "").lower()
    )


def test_same_factories_and_kinds(static_catalog: Catalog, resource_inventory: dict[str, Any]) -> None:
    static = _factories(static_catalog)
    problems = [f"{f}: found by importing, missing statically" for f in sorted(set(resource_inventory) - set(static))]
    problems += [f"{f}: static only" for f in sorted(set(static) - set(resource_inventory))]
    problems += [
        f"{f}: kind static={static[f].kind} imported={o['kind']}"
        for f, o in sorted(resource_inventory.items())
        if f in static and static[f].kind != o["kind"]
    ]
    assert not problems, "\n".join(problems)


def test_flags_match_what_calling_does(static_catalog: Catalog, resource_inventory: dict[str, Any]) -> None:
    static = _factories(static_catalog)
    problems = []
    for fqn, outcome in sorted(resource_inventory.items()):
        entry = static.get(fqn)
        if entry is None or outcome["status"] == "not_called":
            continue
        checks = {
            "needs_network": (entry.needs_network, outcome["status"] == "network"),
            "raises_on_call": (entry.raises_on_call, outcome["status"] == "raises"),
            "deprecated": (entry.deprecated, _deprecated(outcome)),
        }
        for flag, (got, expected) in checks.items():
            if got != expected:
                problems.append(f"{fqn}: {flag} static={got} called={expected} ({outcome.get('error', '')})")
    assert not problems, "\n".join(problems)


def test_literal_values_equal_the_built_resource(static_catalog: Catalog, resource_inventory: dict[str, Any]) -> None:
    static = _factories(static_catalog)
    problems = []
    for fqn, outcome in sorted(resource_inventory.items()):
        built = outcome.get("built")
        entry = static.get(fqn)
        if built is None or entry is None:
            continue
        for axis in ("size_x", "size_y", "size_z"):
            value = getattr(entry, axis)
            if value is not None and not math.isclose(value, built[axis], abs_tol=1e-6):
                problems.append(f"{fqn}: {axis} static={value} built={built[axis]}")
        if entry.model is not None and entry.model != built["model"]:
            problems.append(f"{fqn}: model static={entry.model!r} built={built['model']!r}")
        count = entry.well_count if entry.well_count is not None else entry.tip_count
        if count is not None and count != built["num_items"]:
            problems.append(f"{fqn}: item count static={count} built={built['num_items']}")
        if entry.volume_ul is not None:
            expected = built["tip_volume"] if entry.tip_count is not None else built["well_volume"]
            if expected is None or not math.isclose(entry.volume_ul, expected):
                problems.append(f"{fqn}: volume static={entry.volume_ul} built={expected}")
    assert not problems, "\n".join(problems)


def test_most_working_factories_have_literal_sizes(static_catalog: Catalog, resource_inventory: dict[str, Any]) -> None:
    """In 0.2.2, 78 % of the working factories pass literal sizes (docs/discovery.md); the scan follows
    helpers, so it should do at least that well."""
    static = _factories(static_catalog)
    working = [f for f, o in resource_inventory.items() if o["status"] == "ok"]
    sized = [f for f in working if None not in (static[f].size_x, static[f].size_y, static[f].size_z)]
    assert len(sized) / len(working) >= 0.78
