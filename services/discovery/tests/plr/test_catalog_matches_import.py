"""The static catalog agrees with an import-based inventory of the installed PLR, class for class.

Failure messages name exactly which classes differ and how, so a PLR upgrade that breaks the scanner points
at the construct it no longer understands.
"""

from __future__ import annotations

from typing import Any

from praxis_discovery.catalog import Catalog

EXPECTED_FRONTENDS = 28  # pylabrobot 0.2.2 (docs/discovery.md, Facts about PyLabRobot 0.2.2)
EXPECTED_BACKENDS = 100  # pylabrobot 0.2.2, same section


def _differences(
    kind: str, static: dict[str, dict[str, Any]], imported: dict[str, dict[str, Any]], fields: tuple[str, ...]
) -> list[str]:
    problems = []
    for fqn in sorted(set(imported) - set(static)):
        problems.append(f"{kind} {fqn}: found by importing, missing from the static scan")
    for fqn in sorted(set(static) - set(imported)):
        problems.append(f"{kind} {fqn}: in the static scan, not found by importing")
    for fqn in sorted(set(static) & set(imported)):
        for field in fields:
            if static[fqn][field] != imported[fqn][field]:
                problems.append(
                    f"{kind} {fqn}: {field} static={static[fqn][field]!r} imported={imported[fqn][field]!r}"
                )
    return problems


class TestFrontends:
    def test_same_frontends_with_same_abstract_flags_categories_and_backend_types(
        self, static_catalog: Catalog, import_inventory: dict[str, Any]
    ) -> None:
        static = {f.fqn: f.model_dump() for f in static_catalog.frontends}
        imported = {f["fqn"]: f for f in import_inventory["frontends"]}
        problems = _differences("frontend", static, imported, ("abstract", "category", "accepts_backend"))
        assert not problems, "\n".join(problems)

    def test_count_matches_the_measured_inventory(self, import_inventory: dict[str, Any]) -> None:
        if import_inventory["plr_version"] == "0.2.2":
            assert len(import_inventory["frontends"]) == EXPECTED_FRONTENDS


class TestBackends:
    def test_same_backends_with_same_flags_categories_and_frontends(
        self, static_catalog: Catalog, import_inventory: dict[str, Any]
    ) -> None:
        static = {b.fqn: b.model_dump() for b in static_catalog.backends}
        imported = {b["fqn"]: b for b in import_inventory["backends"]}
        problems = _differences("backend", static, imported, ("abstract", "simulated", "category", "frontends"))
        assert not problems, "\n".join(problems)

    def test_count_matches_the_measured_inventory(self, import_inventory: dict[str, Any]) -> None:
        if import_inventory["plr_version"] == "0.2.2":
            assert len(import_inventory["backends"]) == EXPECTED_BACKENDS

    def test_bases_match_class_for_class(self, static_catalog: Catalog, import_inventory: dict[str, Any]) -> None:
        imported = {b["fqn"]: b["bases"] for b in [*import_inventory["backends"], *import_inventory["frontends"]]}
        problems = []
        for entry in [*static_catalog.backends, *static_catalog.frontends]:
            resolved = [b for b in entry.bases if b.startswith("pylabrobot.")]
            expected = [b for b in imported[entry.fqn] if b.startswith("pylabrobot.")]
            if resolved != expected:
                problems.append(f"{entry.fqn}: static bases {resolved} != imported {expected}")
        assert not problems, "\n".join(problems)


def test_versions_agree(static_catalog: Catalog, import_inventory: dict[str, Any]) -> None:
    assert static_catalog.plr_version == import_inventory["plr_version"]
