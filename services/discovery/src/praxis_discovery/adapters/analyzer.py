"""The discovery service's view of the static catalog: load it once (cached per PLR version), analyse uploaded
protocol files against it, and answer the catalog queries (list with filters and facets, item, typeahead)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from praxis_contracts.base import ErrorReply, Reply
from praxis_contracts.discovery import (
    CatalogItem,
    CatalogPage,
    CatalogSearchResults,
    GetCatalogItem,
    ListCatalog,
    MachineValidated,
    SearchCatalog,
    ValidateMachine,
)
from praxis_contracts.protocols import Diagnostic, ProtocolDefinition
from praxis_discovery.analysis import analyze_source
from praxis_discovery.catalog import Catalog, compatibility_report, load_catalog, search, validate_machine
from praxis_discovery.catalog.cache import cache_path, default_cache_dir
from praxis_discovery.catalog.source import package_root
from praxis_servicekit.queries import QueryRoute

log = logging.getLogger(__name__)

FACETS = ("category", "manufacturer", "kind")


class CatalogAnalyzer:
    def __init__(self, catalog: Catalog, *, from_cache: bool, duration_s: float, key: str = "") -> None:
        self.key = key
        self.catalog = catalog
        self.loaded_from = "cache" if from_cache else "scan"
        self.duration_s = duration_s
        self._items: dict[str, list[dict[str, Any]]] = {
            "frontends": [e.model_dump(mode="json") for e in catalog.frontends],
            "backends": [e.model_dump(mode="json") for e in catalog.backends],
            "resources": [e.model_dump(mode="json") for e in catalog.resources],
        }

    @classmethod
    def load(cls) -> CatalogAnalyzer:
        loaded = load_catalog()
        report = compatibility_report(loaded.catalog)
        log.info(
            "PLR %s catalog from %s in %.2fs: %s; compatibility: %s",
            loaded.catalog.plr_version,
            "cache" if loaded.from_cache else "scan",
            loaded.duration_s,
            loaded.catalog.counts(),
            report.model_dump(mode="json"),
        )
        return cls(loaded.catalog, from_cache=loaded.from_cache, duration_s=loaded.duration_s, key=current_key())

    def changed(self) -> bool:
        """True when the installed PyLabRobot differs from the one this catalog describes (version or files)."""
        return current_key() != self.key

    @property
    def plr_version(self) -> str:
        return self.catalog.plr_version

    def analyze(self, source: str, filename: str) -> tuple[list[ProtocolDefinition], list[Diagnostic]]:
        analysis = analyze_source(source, filename, self.catalog)
        return list(analysis.protocols), list(analysis.diagnostics)

    # -- catalog queries ----------------------------------------------------------------------------------------
    def catalog_routes(self) -> list[QueryRoute]:
        return [
            QueryRoute(ListCatalog, self.list_catalog),
            QueryRoute(GetCatalogItem, self.get_item),
            QueryRoute(SearchCatalog, self.search),
            QueryRoute(ValidateMachine, self.validate_machine),
        ]

    async def list_catalog(self, q: ListCatalog) -> Reply:
        items = self._items[q.kind.value]

        def keep(item: dict[str, Any]) -> bool:
            if q.category and item.get("category") != q.category:
                return False
            if q.manufacturer and (item.get("manufacturer") or "").lower() != q.manufacturer.lower():
                return False
            if q.simulated is not None and "simulated" in item and item["simulated"] != q.simulated:
                return False
            if q.resource_kind and item.get("kind") != q.resource_kind:
                return False
            if q.q:
                text = " ".join(str(item.get(k) or "") for k in ("name", "fqn", "manufacturer", "model")).lower()
                return all(word in text for word in q.q.lower().split())
            return True

        matching = [i for i in items if keep(i)]
        facets = {
            facet: dict(Counter(str(i[facet]) for i in matching if i.get(facet)).most_common())
            for facet in FACETS
            if any(facet in i for i in items)
        }
        limit = min(max(q.limit, 1), 1000)
        return CatalogPage(items=matching[q.offset : q.offset + limit], total=len(matching), facets=facets)

    async def get_item(self, q: GetCatalogItem) -> Reply:
        entry = self.catalog.entry(q.fqn)
        if entry is None:
            return ErrorReply(code="not_found", detail=f"no catalog entry {q.fqn}")
        return CatalogItem(item=entry.model_dump(mode="json"))

    async def validate_machine(self, q: ValidateMachine) -> Reply:
        reason = validate_machine(q.frontend, q.backend, self.catalog)
        if reason is not None:
            return ErrorReply(code="invalid", detail=reason)
        backend = self.catalog.backend(q.backend)
        return MachineValidated(frontend=q.frontend, backend=q.backend, simulated=bool(backend and backend.simulated))

    async def search(self, q: SearchCatalog) -> Reply:
        hits = search(self.catalog, q.q, limit=min(max(q.limit, 1), 100))
        return CatalogSearchResults(items=[h.model_dump(mode="json") for h in hits])


def current_key() -> str:
    """The cache key of the installed PLR: its version plus every source file's size and mtime."""
    return cache_path(default_cache_dir(), package_root()).name


class AnalyzerHolder:
    """The analyzer currently served; swapped whole when PLR changes, so a query never sees half a catalog."""

    def __init__(self, current: CatalogAnalyzer) -> None:
        self.current = current

    def analyze(self, source: str, filename: str) -> tuple[list[ProtocolDefinition], list[Diagnostic]]:
        return self.current.analyze(source, filename)

    def catalog_routes(self) -> list[QueryRoute]:
        return [
            QueryRoute(ListCatalog, lambda q: self.current.list_catalog(q)),
            QueryRoute(GetCatalogItem, lambda q: self.current.get_item(q)),
            QueryRoute(SearchCatalog, lambda q: self.current.search(q)),
            QueryRoute(ValidateMachine, lambda q: self.current.validate_machine(q)),
        ]
