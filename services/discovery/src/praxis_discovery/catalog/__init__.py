"""Static catalog of the installed PyLabRobot: frontends, backends, resources, simulated frontends.

Built by reading PLR's source (stdlib ``ast``), never by importing it. Entry points::

    load_catalog()            -> LoadedCatalog (cached per PLR version + file digest)
    scan_catalog()            -> Catalog       (always a fresh scan)
    search(catalog, q, limit) -> list[SearchHit]
    validate_machine(frontend_fqn, backend_fqn, catalog) -> None | reason
    compatibility_report(catalog) -> CompatibilityReport
"""

from praxis_discovery.catalog.build import scan_catalog
from praxis_discovery.catalog.cache import CACHE_DIR_ENV, LoadedCatalog, default_cache_dir, load_catalog
from praxis_discovery.catalog.compat import CompatibilityReport, compatibility_report
from praxis_discovery.catalog.model import (
    BackendEntry,
    Catalog,
    FrontendEntry,
    FrontendFactoryEntry,
    ModuleEntry,
    Param,
    Requirement,
    ResourceEntry,
    SimulatedFrontend,
    UsbDevice,
)
from praxis_discovery.catalog.search import SearchHit, search
from praxis_discovery.catalog.simulated import validate_machine

__all__ = [
    "CACHE_DIR_ENV",
    "BackendEntry",
    "Catalog",
    "CompatibilityReport",
    "FrontendEntry",
    "FrontendFactoryEntry",
    "LoadedCatalog",
    "ModuleEntry",
    "Param",
    "Requirement",
    "ResourceEntry",
    "SearchHit",
    "SimulatedFrontend",
    "UsbDevice",
    "compatibility_report",
    "default_cache_dir",
    "load_catalog",
    "scan_catalog",
    "search",
    "validate_machine",
]
