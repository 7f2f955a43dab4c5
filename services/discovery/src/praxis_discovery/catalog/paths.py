"""Import paths users type, and what a module path says about a class (category, manufacturer)."""

from __future__ import annotations

from collections import defaultdict

from praxis_discovery.catalog.parse import ModuleFacts


class ImportPaths:
    """Every public ``module.Name`` under which a definition is importable, for picking the one to show.

    Built from the per-module export tables. Deprecated shim modules (warn on import, e.g.
    ``plate_reading/clario_star_backend.py``), modules that raise on import and private modules are never chosen.
    """

    def __init__(self, modules: dict[str, ModuleFacts], exports: dict[str, dict[str, str]]) -> None:
        self._paths: dict[str, list[str]] = defaultdict(list)
        for module, names in exports.items():
            facts = modules[module]
            if facts.deprecated or facts.raises_on_import or _private(module):
                continue
            for name, target in names.items():
                if not name.startswith("_") and target.rsplit(".", 1)[-1] == name:
                    self._paths[target].append(f"{module}.{name}")

    def all(self, fqn: str) -> list[str]:
        """Shortest first; at equal depth, paths through the defining module or its parent packages win over
        a sibling that merely re-imports the name (``peeling.peeler.Peeler`` over ``peeling.xpeel.Peeler``)."""
        defining = fqn.rpartition(".")[0]

        def rank(path: str) -> tuple[int, int, int, str]:
            module = path.rpartition(".")[0]
            related = defining == module or defining.startswith(module + ".")
            return (path.count("."), 0 if related else 1, len(path), path)

        return sorted(self._paths.get(fqn, []), key=rank)

    def best(self, fqn: str) -> str:
        paths = self.all(fqn)
        return paths[0] if paths else fqn


def _private(module: str) -> bool:
    return any(part.startswith("_") and part != "__init__" for part in module.split("."))


def package_of(fqn: str) -> str:
    """``pylabrobot.<package>....`` -> ``<package>`` (the PLR category package)."""
    parts = fqn.split(".")
    return parts[1] if len(parts) > 2 else ""


def manufacturer_of(module: str) -> tuple[str | None, str | None]:
    """Manufacturer (and brand) from the module path: ``resources.corning.costar.plates`` -> (corning, costar).

    Generic modules (``resources.plate``) have none; outside ``resources`` the vendor is the sub-package of the
    category (``storage.cytomat.racks`` -> cytomat, ``plate_reading.byonoy.byonoy_a96a`` -> byonoy,
    ``liquid_handling.backends.hamilton.STAR_backend`` -> hamilton). A vendor module sitting directly in the
    category package (``heating_shaking/hamilton_backend.py``) gives None rather than a guess from its name.
    """
    parts = [p for p in module.split(".")[2:-1] if p != "backends"]  # drop pylabrobot, category, module file
    if not parts:
        return None, None
    return parts[0], (parts[1] if len(parts) > 1 else None)
