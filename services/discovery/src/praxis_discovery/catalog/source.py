"""Where the installed PyLabRobot lives, which of its files the catalog reads, and what version it is.

Nothing here imports ``pylabrobot``: ``importlib.util.find_spec`` of a top-level package only locates it, and the
version comes from the distribution metadata. The file digest (sizes and mtimes) is what the cache is keyed on,
together with the version, so a reinstall or a local edit of PLR invalidates the cached catalog.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "pylabrobot"

#: Directories never scanned: tests and the Hamilton/Tecan liquid-class data tables (15k-line dicts, no classes
#: that matter for discovery; skipping them saves a third of the parse time).
SKIPPED_DIRS = frozenset({"tests", "__pycache__", "liquid_classes"})


class PlrNotInstalled(RuntimeError):
    """PyLabRobot cannot be found in this environment."""


@dataclass(frozen=True)
class SourceFile:
    module: str
    path: Path
    is_package: bool


def package_root() -> Path:
    """Directory of the installed ``pylabrobot`` package, located without executing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise PlrNotInstalled("pylabrobot is not installed in this environment")
    return Path(spec.origin).parent


def plr_version(root: Path) -> str:
    """Version of the PLR tree at ``root``: its ``version.txt`` (what ``__version__`` reads at import time), a
    literal ``__version__`` in ``__version__.py``, else the installed distribution's metadata."""
    version_txt = root / "version.txt"
    if version_txt.exists():
        return version_txt.read_text(encoding="utf-8").strip()
    version_file = root / "__version__.py"
    if version_file.exists():
        for line in version_file.read_text(encoding="utf-8").splitlines():
            if line.startswith("__version__") and ("'" in line or '"' in line):
                return line.split("=", 1)[1].strip().strip("\"'")
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def is_test_file(name: str) -> bool:
    return name.endswith("_tests.py") or name == "conftest.py" or name.startswith("test_")


def source_files(root: Path) -> list[SourceFile]:
    """Every non-test module of the package under ``root`` (whose directory name is the package name)."""
    files: list[SourceFile] = []
    base = root.parent
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        rel = Path(directory).relative_to(base)
        package = ".".join(rel.parts)
        for name in sorted(names):
            if not name.endswith(".py") or is_test_file(name):
                continue
            stem = name[:-3]
            is_package = stem == "__init__"
            module = package if is_package else f"{package}.{stem}"
            files.append(SourceFile(module=module, path=Path(directory) / name, is_package=is_package))
    return files


def tree_digest(paths: list[Path], extra: str = "") -> str:
    """sha256 over relative names, sizes and mtimes: cheap (one stat per file) and changes on any reinstall."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
