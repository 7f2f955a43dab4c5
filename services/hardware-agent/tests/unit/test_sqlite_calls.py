"""The SQLite call record on real files: first result wins, intents never overwrite results, epochs only rise,
old rows expire, and a file from a newer agent is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from praxis_contracts.hardware import MachineCall, MachineCallResult
from praxis_hardware_agent.adapters.sqlite_calls import SqliteCallStore, StateFileError, state_file
from praxis_hardware_agent.domain.call_record import CallState, RunCalls, StoredCall, call_digest


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return state_file(tmp_path / "state" / "nested", "bench-1")


@pytest.fixture
def store(path: Path, clock: Clock) -> Iterator[SqliteCallStore]:
    s = SqliteCallStore.open(path, clock=clock)
    yield s
    s.close()


def intent(sequence: int, run_id: str = "run", at: float = 1_000.0) -> StoredCall:
    call = MachineCall(bench_id="bench-1", run_id=run_id, sequence=sequence, machine="m", method="go")
    return StoredCall.intent(call, call_digest("m", "go", {}), at)


def ok(value: object) -> MachineCallResult:
    return MachineCallResult(ok=True, result=value)


def test_the_file_and_its_directory_are_created_in_wal_mode(store: SqliteCallStore, path: Path) -> None:
    assert path.is_file() and path.name == "bench-1.sqlite3"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_result_survives_reopening_the_file(store: SqliteCallStore, path: Path) -> None:
    first = ok({"v": 1.5})
    store.finish(intent(1).done(first), performed=True)
    store.close()
    reopened = SqliteCallStore.open(path)
    try:
        found = reopened.get("run:1")
        assert found is not None and found.state is CallState.DONE and found.result == first
        assert (found.run_id, found.sequence, found.machine, found.method) == ("run", 1, "m", "go")
    finally:
        reopened.close()


def test_the_first_result_wins_but_every_invocation_is_counted(store: SqliteCallStore) -> None:
    store.finish(intent(1).done(ok("first")), performed=True)
    store.finish(intent(1).done(ok("second")), performed=True)
    found = store.get("run:1")
    assert found is not None and found.result is not None and found.result.result == "first"
    assert store.summary("run") == [RunCalls("run", performed=2, duplicated=[1], max_sequence=1)]


def test_an_intent_never_overwrites_a_result(store: SqliteCallStore) -> None:
    store.start(intent(1))
    started = store.get("run:1")
    assert started is not None and started.state is CallState.STARTED and started.result is None
    store.finish(intent(1).done(ok("x")), performed=True)
    store.start(intent(1))
    found = store.get("run:1")
    assert found is not None and found.state is CallState.DONE


def test_a_result_without_an_invocation_is_recorded_but_not_counted(store: SqliteCallStore) -> None:
    store.finish(intent(1).done(MachineCallResult(ok=False, error_type="MethodNotAllowed")), performed=False)
    assert store.summary() == [RunCalls("run", performed=0, max_sequence=1)]


def test_finish_needs_a_result(store: SqliteCallStore) -> None:
    with pytest.raises(ValueError, match="needs a result"):
        store.finish(intent(1), performed=True)


def test_the_epoch_of_a_run_only_rises(store: SqliteCallStore) -> None:
    assert store.observe_run("run", 2) == 2
    assert store.observe_run("run", 1) == 2
    assert store.observe_run("run", 5) == 5
    assert store.observe_run("other", 0) == 0


def test_summary_per_run(store: SqliteCallStore) -> None:
    store.observe_run("idle", 0)
    for seq in (1, 2, 3):
        store.finish(intent(seq, "a").done(ok(seq)), performed=True)
    store.finish(intent(2, "a").done(ok(2)), performed=True)
    store.start(intent(4, "a"))
    store.start(intent(1, "b"))
    assert store.summary() == [
        RunCalls("a", performed=4, duplicated=[2], unknown=[4], max_sequence=4),
        RunCalls("b", performed=0, unknown=[1], max_sequence=1),
        RunCalls("idle"),
    ]
    assert store.summary("b") == [RunCalls("b", performed=0, unknown=[1], max_sequence=1)]
    assert store.summary("nope") == []


def test_sweep_forgets_old_rows_only(store: SqliteCallStore, clock: Clock) -> None:
    store.observe_run("old", 0)
    store.finish(intent(1, "old", at=1_000).done(ok(1)), performed=True)
    clock.now = 5_000
    store.observe_run("new", 0)
    store.finish(intent(1, "new", at=5_000).done(ok(1)), performed=True)
    assert store.sweep(older_than=2_000) == 3  # old's call, its invocation, and the run
    assert store.get("old:1") is None and store.get("new:1") is not None
    assert [r.run_id for r in store.summary()] == ["new"]


def test_a_file_of_a_newer_agent_is_refused(path: Path) -> None:
    SqliteCallStore.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(StateFileError, match="newer agent"):
        SqliteCallStore.open(path)


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateFileError, match="cannot open the agent's call record"):
        SqliteCallStore.open(blocker / "bench.sqlite3")


def test_reading_never_creates_a_file(tmp_path: Path) -> None:
    with pytest.raises(StateFileError, match="no call record"):
        SqliteCallStore.open_existing(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()


def test_memory_works_for_in_process_benches() -> None:
    store = SqliteCallStore.open(":memory:")
    store.finish(intent(1).done(ok(1)), performed=True)
    assert store.summary()[0].performed == 1
    store.close()
