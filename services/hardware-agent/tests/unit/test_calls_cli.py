"""``praxis-hardware-agent calls``: the per-run proof of "each call exactly once", read from the state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from praxis_contracts.hardware import MachineCall, MachineCallResult
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore, state_file
from praxis_hardware_agent.domain.call_record import StoredCall
from praxis_hardware_agent.entrypoints.cli import main


def record(state_dir: Path, bench_id: str = "bench-7") -> None:
    store = SqliteCallStore.open(state_file(state_dir, bench_id))
    for run_id, seq, performed in (("a", 1, True), ("a", 2, True), ("a", 2, True), ("b", 1, True)):
        call = MachineCall(bench_id=bench_id, run_id=run_id, sequence=seq, machine="m", method="go")
        store.finish(StoredCall.intent(call, "d", 1.0).done(MachineCallResult(ok=True)), performed=performed)
    store.start(
        StoredCall.intent(MachineCall(bench_id=bench_id, run_id="b", sequence=2, machine="m", method="go"), "d", 1.0)
    )
    store.close()


def test_json_for_every_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(tmp_path)
    assert main(["--state-dir", str(tmp_path), "--bench-id", "bench-7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "runs": {
            "a": {"performed": 3, "duplicated": [2], "unknown": [], "max_sequence": 2},
            "b": {"performed": 1, "duplicated": [], "unknown": [2], "max_sequence": 2},
        }
    }


def test_text_for_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record(tmp_path)
    assert main(["--state-dir", str(tmp_path), "--bench-id", "bench-7", "--run", "b"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "run b: 1 performed (max sequence 2), performed more than once: none, outcome unknown: 2"
    assert main(["--state-dir", str(tmp_path), "--bench-id", "bench-7", "--run", "zzz"]) == 0
    assert "no record of run zzz" in capsys.readouterr().out


def test_settings_give_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record(tmp_path, "bench-env")
    monkeypatch.setenv("PRAXIS_AGENT_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PRAXIS_AGENT_BENCH_ID", "bench-env")
    assert main(["--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["runs"]) == {"a", "b"}


def test_a_missing_record_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "--bench-id", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "no call record" in err and "nowhere.sqlite3" in err


def test_a_bench_id_that_is_not_a_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path), "--bench-id", "../etc"]) == 2
    assert "bench_id" in capsys.readouterr().err


def test_it_is_a_subcommand_of_the_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from praxis_hardware_agent.bootstrap import build_from_args
    from praxis_servicekit.cli import run_cli

    record(tmp_path)
    tools = {"calls": ("calls", main)}
    assert (
        run_cli(
            "hardware-agent",
            build_from_args,
            ["calls", "--state-dir", str(tmp_path), "--bench-id", "bench-7", "--json"],
            tools=tools,
        )
        == 0
    )
    assert "runs" in json.loads(capsys.readouterr().out)
