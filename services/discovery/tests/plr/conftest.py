"""Fixtures for checking the static catalog against the installed PyLabRobot itself.

The oracles (``inventory_by_import.py``, ``resources_by_import.py``) import PLR, so they run in subprocesses:
this test process never imports PLR, exactly like the service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from praxis_discovery.catalog import Catalog, scan_catalog

HERE = Path(__file__).parent


def _run_oracle(script: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / script)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="session")
def import_inventory() -> dict[str, Any]:
    """Frontends and backends found by importing every non-test PLR module."""
    return _run_oracle("inventory_by_import.py")


@pytest.fixture(scope="session")
def resource_inventory() -> dict[str, Any]:
    """Resource factories found by importing PLR and calling each one (network blocked)."""
    return _run_oracle("resources_by_import.py")


@pytest.fixture(scope="session")
def static_catalog() -> Catalog:
    """A fresh static scan (no cache), as ``praxis-discovery scan --refresh`` would produce."""
    return scan_catalog()
