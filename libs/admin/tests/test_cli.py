"""``praxis-admin nats-init`` / ``nats-add-bench``: what is written and printed, and exit code 2 for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from praxis_admin.cli import main


def test_nats_init_writes_the_set_and_prints_each_process_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth = tmp_path / "auth"
    assert main(["nats-init", str(auth), "--bench", "sim-bench-1", "--bench", "lab-2"]) == 0
    out = capsys.readouterr().out
    for name in ("discovery", "scheduler", "executor", "gateway", "agent-sim-bench-1", "agent-lab-2"):
        assert (auth / "creds" / f"{name}.creds").is_file()
        assert f"creds/{name}.creds" in out
    assert f"PRAXIS_EXECUTOR_WORKER_SIGNER={auth / 'worker-signer.nk'}" in out
    assert f"PRAXIS_SCHEDULER_NATS_CREDS={auth / 'creds' / 'scheduler.creds'}" in out
    assert f"nats-server -c {auth / 'nats-server.conf'}" in out

    assert main(["nats-init", str(auth)]) == 0  # again: keys kept, both agents still issued
    again = capsys.readouterr().out
    assert "new key" not in again and "agent-lab-2.creds" in again


def test_nats_add_bench_issues_one_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nats-init", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["nats-add-bench", "bench-9", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "agent-bench-9.creds" in out and "PRAXIS_AGENT_NATS_CREDS=" in out
    assert "scheduler.creds" not in out


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["nats-init", "{dir}", "--bench", "a.b"], "bench id 'a.b' must be one subject token"),
        (["nats-add-bench", "b1", "{dir}/nowhere"], "run `praxis-admin nats-init"),
    ],
)
def test_bad_input_is_exit_code_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    assert main([a.replace("{dir}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert error in err and err.count("\n") == 1
    assert not (tmp_path / "operator.nk").exists()  # nothing half-written
