"""Pure parts of praxis-dev: env parsing, parameters, event formatting, error exits."""

from __future__ import annotations

from pathlib import Path

import pytest

from praxis_devstack.cli import main
from praxis_devstack.config import DevConfig, find_repo_root
from praxis_devstack.errors import DevStackError
from praxis_devstack.try_run import event_status, format_event, parse_params, ws_url


def test_config_defaults_and_overrides(tmp_path: Path) -> None:
    config = DevConfig.from_env({}, root=tmp_path)
    assert (config.nats_port, config.pg_port, config.gateway_port) == (4322, 5433, 8000)
    assert config.nats_url is None and config.database_url is None
    assert config.pg_data == tmp_path / ".devdata" / "pg"
    custom = DevConfig.from_env({"PRAXIS_DEV_GATEWAY_PORT": "8100", "PRAXIS_NATS_URL": "nats://h:1"}, root=tmp_path)
    assert custom.gateway_url == "http://127.0.0.1:8100" and custom.nats_url == "nats://h:1"


def test_data_dir_holds_everything_and_follows_praxis_dev_data_dir(tmp_path: Path) -> None:
    default = DevConfig.from_env({}, root=tmp_path)
    assert default.devdata == tmp_path / ".devdata" and default.logs_dir == tmp_path / ".devdata" / "logs"
    other = tmp_path / "drill"
    config = DevConfig.from_env({"PRAXIS_DEV_DATA_DIR": str(other)}, root=tmp_path / "repo")
    assert (config.logs_dir, config.nats_store, config.pg_data) == (other / "logs", other / "nats", other / "pg")
    assert (config.executor_work_dir, config.agent_state_dir) == (other / "executor", other / "agent")
    assert config.nats_log == other / "logs" / "nats.log"
    relative = DevConfig.from_env({"PRAXIS_DEV_DATA_DIR": "data2"}, root=tmp_path)
    assert relative.devdata == tmp_path / "data2"  # anchored at the repo root, like .devdata


def test_data_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(DevStackError, match=r"PRAXIS_DEV_DATA_DIR.*not a directory") as info:
        DevConfig.from_env({"PRAXIS_DEV_DATA_DIR": "afile"}, root=tmp_path)
    assert info.value.exit_code == 2


def test_bad_port_env_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(DevStackError, match="PRAXIS_DEV_PG_PORT") as info:
        DevConfig.from_env({"PRAXIS_DEV_PG_PORT": "abc"}, root=tmp_path)
    assert info.value.exit_code == 2


def test_repo_root_is_found_from_a_subdirectory() -> None:
    root = find_repo_root(Path(__file__).parent)
    assert (root / "libs" / "devstack").is_dir()


def test_parse_params_types_values() -> None:
    assert parse_params(["n=3", "x=0.5", "name=abc", "flags=[1,2]", 's="7"']) == {
        "n": 3,
        "x": 0.5,
        "name": "abc",
        "flags": [1, 2],
        "s": "7",
    }
    with pytest.raises(DevStackError):
        parse_params(["novalue"])


def test_event_helpers() -> None:
    event = {"type": "RunFinished", "seq": 9, "run_id": "r", "status": "completed", "outputs": {"a": 1}}
    line = format_event(event)
    assert "RunFinished" in line and '"outputs":{"a":1}' in line and "\n" not in line
    assert event_status(event) == "completed"
    assert event_status({"data": {"status": "failed"}}) == "failed"
    assert ws_url("http://127.0.0.1:8000", "/api/v1/runs/1/events") == "ws://127.0.0.1:8000/api/v1/runs/1/events"
    assert ws_url("https://x.org/", "/e").startswith("wss://x.org/e")


def test_try_without_gateway_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from praxis_testkit.servers import free_port

    protocol = tmp_path / "p.py"
    protocol.write_text("def run(ctx): pass\n")
    code = main(["try", str(protocol), "--gateway", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the gateway" in err and "Traceback" not in err


def test_try_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["try", "does/not/exist.py"]) == 2
    assert "cannot read" in capsys.readouterr().err
