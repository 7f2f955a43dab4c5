"""Shared fixtures: the real PLR catalog (scanned once per session into a temp cache), a miniature fake PLR
package for targeted scanner tests, and helpers to analyse the sample protocols in ``tests/fixtures``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from praxis_discovery.analysis import Analysis, analyze_source
from praxis_discovery.catalog import Catalog, load_catalog, scan_catalog

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Catalog of the installed pylabrobot (statically scanned, never imported)."""
    return load_catalog(tmp_path_factory.mktemp("catalog-cache")).catalog


@pytest.fixture(scope="session")
def fake_root() -> Path:
    return FIXTURES / "fakeplr" / "pylabrobot"


@pytest.fixture(scope="session")
def fake_catalog(fake_root: Path) -> Catalog:
    return scan_catalog(fake_root)


@pytest.fixture
def protocol_source() -> Callable[[str], str]:
    def read(name: str) -> str:
        return (FIXTURES / "protocols" / name).read_text(encoding="utf-8")

    return read


@pytest.fixture
def analyze(catalog: Catalog, protocol_source: Callable[[str], str]) -> Callable[[str], Analysis]:
    """Analyse a sample protocol from tests/fixtures/protocols by file name."""

    def run(name: str) -> Analysis:
        return analyze_source(protocol_source(name), name, catalog)

    return run


@pytest.fixture
def analyze_text(catalog: Catalog) -> Callable[[str], Analysis]:
    """Analyse inline source (for one-off cases that do not deserve a fixture file)."""

    def run(source: str) -> Analysis:
        return analyze_source(source, "inline.py", catalog)

    return run


def position_of(source: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the n-th occurrence of ``needle`` in ``source``."""
    index = -1
    for _ in range(occurrence):
        index = source.index(needle, index + 1)
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return line, column


@pytest.fixture
def locate() -> Callable[..., tuple[int, int]]:
    return position_of
