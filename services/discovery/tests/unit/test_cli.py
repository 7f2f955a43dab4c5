"""``scan --json`` and ``analyze FILE --json`` as the console and the e2e tests use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from praxis_discovery.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "protocols"


@pytest.fixture
def cache_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return ["--cache-dir", str(tmp_path_factory.getbasetemp() / "cli-cache")]


def test_scan_json(capsys: pytest.CaptureFixture[str], cache_args: list[str]) -> None:
    assert main(["scan", "--json", *cache_args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"plr_version", "frontends", "backends", "resources", "simulated_frontends"} <= set(data)
    frontend = data["frontends"][0]
    assert {"fqn", "category", "abstract", "import_path", "params", "accepts_backend"} <= set(frontend)
    backend = data["backends"][0]
    assert {"fqn", "category", "abstract", "simulated", "deprecated", "frontends", "usb_ids"} <= set(backend)
    assert {"fqn", "kind"} <= set(data["resources"][0])


def test_analyze_json_clean_file(capsys: pytest.CaptureFixture[str], cache_args: list[str]) -> None:
    assert main(["analyze", str(FIXTURES / "serial_dilution.py"), "--json", *cache_args]) == 0
    data = json.loads(capsys.readouterr().out)
    (protocol,) = data["protocols"]
    assert protocol["function"] == "serial_dilution" and data["diagnostics"] == []
    assert {"name", "type", "default", "required"} <= set(protocol["parameters"][0])
    assert {"name", "plr_type", "kind", "optional", "many"} <= set(protocol["assets"][0])


def test_analyze_exits_1_on_errors(capsys: pytest.CaptureFixture[str], cache_args: list[str]) -> None:
    assert main(["analyze", str(FIXTURES / "syntax_error.py.txt"), "--json", *cache_args]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["protocols"] == [] and data["diagnostics"][0]["line"] == 5


def test_analyze_text_output(capsys: pytest.CaptureFixture[str], cache_args: list[str]) -> None:
    assert main(["analyze", str(FIXTURES / "no_protocol.py"), *cache_args]) == 1
    assert "no_protocol.py:1:1: error: no protocol" in capsys.readouterr().out


def test_analyze_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["analyze", str(tmp_path / "missing.py")]) == 2
    assert "cannot read" in capsys.readouterr().err
