"""Catalog cache semantics (timings belong to bench/catalog.py, not here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from praxis_discovery.catalog import CACHE_DIR_ENV, default_cache_dir, load_catalog


@pytest.fixture
def plr_copy(tmp_path: Path, fake_root: Path) -> Path:
    target = tmp_path / "site" / "pylabrobot"
    shutil.copytree(fake_root, target)
    return target


def test_second_load_hits_the_cache(tmp_path: Path, plr_copy: Path) -> None:
    first = load_catalog(tmp_path / "cache", root=plr_copy)
    second = load_catalog(tmp_path / "cache", root=plr_copy)
    assert not first.from_cache and second.from_cache
    assert first.path == second.path and second.path is not None and second.path.exists()
    assert second.catalog.model_dump() == first.catalog.model_dump()


def test_refresh_rescans(tmp_path: Path, plr_copy: Path) -> None:
    load_catalog(tmp_path / "cache", root=plr_copy)
    assert not load_catalog(tmp_path / "cache", root=plr_copy, refresh=True).from_cache


def test_a_changed_plr_file_misses_and_replaces_the_old_entry(tmp_path: Path, plr_copy: Path) -> None:
    first = load_catalog(tmp_path / "cache", root=plr_copy)
    module = plr_copy / "shaking" / "chatterbox.py"
    module.write_text(
        module.read_text() + "\n\nclass SecondShakerChatterboxBackend(ShakerChatterboxBackend):\n    pass\n"
    )
    second = load_catalog(tmp_path / "cache", root=plr_copy)
    assert not second.from_cache and second.path != first.path
    assert "SecondShakerChatterboxBackend" in {b.name for b in second.catalog.backends}
    assert first.path is not None and not first.path.exists()


def test_a_new_version_misses(tmp_path: Path, plr_copy: Path) -> None:
    load_catalog(tmp_path / "cache", root=plr_copy)
    (plr_copy / "version.txt").write_text("9.9.9\n")
    again = load_catalog(tmp_path / "cache", root=plr_copy)
    assert not again.from_cache and again.catalog.plr_version == "9.9.9"


def test_corrupt_cache_is_rescanned(tmp_path: Path, plr_copy: Path) -> None:
    first = load_catalog(tmp_path / "cache", root=plr_copy)
    assert first.path is not None
    first.path.write_text("{not json")
    again = load_catalog(tmp_path / "cache", root=plr_copy)
    assert not again.from_cache and again.catalog.plr_version == first.catalog.plr_version


def test_unwritable_cache_still_returns_a_catalog(tmp_path: Path, plr_copy: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    loaded = load_catalog(blocker / "cache", root=plr_copy)
    assert loaded.path is None and loaded.catalog.frontends


def test_cache_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "praxis" / "discovery"
