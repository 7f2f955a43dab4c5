"""Catalog cache: one JSON file per PLR version + source digest, so a restart loads in milliseconds and a PLR
upgrade (or any edit of its files, or of this scanner) triggers exactly one rescan.

Cache directory: ``PRAXIS_DISCOVERY_CACHE_DIR``, default ``~/.cache/praxis/discovery``. Writes are atomic
(temp file + rename), a corrupt or unreadable cache is ignored and rewritten, and an unwritable directory only
costs the next start a rescan.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from praxis_discovery.catalog.build import scan_catalog
from praxis_discovery.catalog.model import SCANNER_VERSION, Catalog
from praxis_discovery.catalog.source import package_root, plr_version, source_files, tree_digest

CACHE_DIR_ENV = "PRAXIS_DISCOVERY_CACHE_DIR"


@dataclass(frozen=True)
class LoadedCatalog:
    catalog: Catalog
    from_cache: bool
    path: Path | None
    duration_s: float


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "praxis" / "discovery"


def _scanner_digest() -> str:
    """Sizes/mtimes of this package's own files: a changed scanner must not read a cache it did not write."""
    here = Path(__file__).parent
    return tree_digest(sorted(here.glob("*.py")), extra=f"scanner-v{SCANNER_VERSION}")


def cache_path(cache_dir: Path, root: Path) -> Path:
    version = plr_version(root)
    files = [f.path for f in source_files(root)]
    key = hashlib.sha256(f"{tree_digest(files, extra=str(root))}{_scanner_digest()}".encode()).hexdigest()[:20]
    safe_version = "".join(c if c.isalnum() or c in ".-_" else "_" for c in version)
    return cache_dir / f"catalog-{safe_version}-{key}.json"


def load_catalog(cache_dir: Path | None = None, *, root: Path | None = None, refresh: bool = False) -> LoadedCatalog:
    """The catalog of the installed PLR: from the cache when it matches, else a fresh scan (then cached)."""
    started = time.perf_counter()
    root = root or package_root()
    directory = cache_dir or default_cache_dir()
    path = cache_path(directory, root)
    if not refresh and path.exists():
        try:
            catalog = Catalog.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):
            catalog = None
        if catalog is not None:
            return LoadedCatalog(catalog, True, path, time.perf_counter() - started)
    catalog = scan_catalog(root)
    written = _write(path, catalog)
    return LoadedCatalog(catalog, False, path if written else None, time.perf_counter() - started)


def _write(path: Path, catalog: Catalog) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(catalog.model_dump_json().encode())
        os.replace(tmp, path)
    except OSError:
        return False
    prefix = path.name.rsplit("-", 1)[0]
    for stale in path.parent.glob(f"{prefix}-*.json"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return True
