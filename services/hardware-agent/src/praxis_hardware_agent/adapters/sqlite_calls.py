"""The bench's durable call record: one local SQLite file per bench (``<state_dir>/<bench_id>.sqlite3``).

Why a local file and not the broker: the record must be written *before* the agent replies (and, for a real
instrument, before it acts), on the machine that acts, without a network round trip that can fail or be slow in
exactly the moments that matter (NATS down, network partition). WAL mode with ``synchronous=NORMAL`` makes each
commit durable against a crash of the agent process (the OS still has the pages); ``synchronous=FULL``
(``PRAXIS_AGENT_STATE_SYNC=full``) fsyncs every commit, which also survives a power cut, at about a millisecond
per call. ``:memory:`` gives a private record for tests and in-process benches.

Tables: ``calls`` (one row per idempotency key: the intent, then the result), ``performed`` (append-only, one row
per actual invocation of a backend method; a crash drill counts these) and ``runs`` (the highest worker epoch
seen per run, the fencing token). One agent process owns a file; the ``calls`` command only reads it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from praxis_contracts.hardware import MachineCallResult
from praxis_hardware_agent.domain.call_record import CallState, RunCalls, StoredCall

SyncMode = Literal["normal", "full"]
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    machine TEXT NOT NULL,
    method TEXT NOT NULL,
    digest TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    result_json TEXT,
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS calls_run ON calls (run_id, sequence);
CREATE INDEX IF NOT EXISTS calls_started ON calls (started_at);
CREATE TABLE IF NOT EXISTS performed (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    machine TEXT NOT NULL,
    method TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS performed_run ON performed (run_id, sequence);
CREATE INDEX IF NOT EXISTS performed_at ON performed (at);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    max_epoch INTEGER NOT NULL,
    seen_at REAL NOT NULL
);
"""


class StateFileError(RuntimeError):
    """The state file cannot be opened or was written by an incompatible agent; the message says which file."""


def state_file(state_dir: str | Path, bench_id: str) -> Path:
    return Path(state_dir) / f"{bench_id}.sqlite3"


class SqliteCallStore:
    """:class:`~praxis_hardware_agent.domain.call_record.CallStore` on SQLite (stdlib ``sqlite3``)."""

    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock

    @classmethod
    def open(
        cls, path: str | Path, *, sync: SyncMode = "normal", clock: Callable[[], float] = time.time
    ) -> SqliteCallStore:
        """Open (creating the file, its directory and the tables) the record at ``path``, or ``:memory:``."""
        target = str(path)
        try:
            if target != ":memory:":
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, isolation_level=None, timeout=5.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            _migrate(conn, target)
        except (sqlite3.Error, OSError) as exc:
            raise StateFileError(f"cannot open the agent's call record {target}: {exc}") from exc
        return cls(conn, clock=clock)

    @classmethod
    def open_existing(cls, path: str | Path) -> SqliteCallStore:
        """Open a record that must already exist (for reading it: the ``calls`` command never creates one)."""
        target = Path(path)
        if not target.is_file():
            raise StateFileError(f"no call record at {target} (check --state-dir and --bench-id)")
        try:
            conn = sqlite3.connect(f"file:{target}?mode=rw", uri=True, isolation_level=None, timeout=5.0)
            _check_version(conn, str(target))
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot read the agent's call record {target}: {exc}") from exc
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---------------------------------------------------------------------------------------------- writes

    def observe_run(self, run_id: str, epoch: int) -> int:
        with self._transaction() as conn:  # no RETURNING: bench PCs may have an SQLite older than 3.35
            conn.execute(
                "INSERT INTO runs (run_id, max_epoch, seen_at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "max_epoch = max(max_epoch, excluded.max_epoch), seen_at = excluded.seen_at",
                (run_id, epoch, self._clock()),
            )
            (max_epoch,) = conn.execute("SELECT max_epoch FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return int(max_epoch)

    def start(self, intent: StoredCall) -> None:
        self._conn.execute(
            "INSERT INTO calls (key, run_id, sequence, machine, method, digest, epoch, state, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'started', ?) ON CONFLICT (key) DO UPDATE SET "
            "epoch = excluded.epoch, started_at = excluded.started_at WHERE calls.state = 'started'",
            (*_identity(intent), intent.epoch, intent.started_at),
        )

    def finish(self, call: StoredCall, *, performed: bool) -> None:
        if call.result is None:
            raise ValueError(f"finish({call.key}) needs a result")
        now = self._clock()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO calls (key, run_id, sequence, machine, method, digest, epoch, state, result_json, "
                "started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'done', ?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET state = 'done', result_json = excluded.result_json, finished_at = excluded.finished_at, "
                "epoch = excluded.epoch WHERE calls.state = 'started'",
                (*_identity(call), call.epoch, call.result.model_dump_json(), call.started_at, now),
            )
            if performed:
                conn.execute(
                    "INSERT INTO performed (key, run_id, sequence, machine, method, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (call.key, call.run_id, call.sequence, call.machine, call.method, now),
                )

    def sweep(self, older_than: float) -> int:
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM calls WHERE coalesce(finished_at, started_at) < ?", (older_than,))
            count = removed.rowcount
            count += conn.execute("DELETE FROM performed WHERE at < ?", (older_than,)).rowcount
            count += conn.execute(
                "DELETE FROM runs WHERE seen_at < ? AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.run_id = runs.run_id)",
                (older_than,),
            ).rowcount
        return count

    # ---------------------------------------------------------------------------------------------- reads

    def get(self, key: str) -> StoredCall | None:
        row = self._conn.execute(
            "SELECT key, run_id, sequence, machine, method, digest, epoch, state, started_at, result_json "
            "FROM calls WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        key_, run_id, sequence, machine, method, digest, epoch, state, started_at, result_json = row
        return StoredCall(
            key=key_,
            run_id=run_id,
            sequence=sequence,
            machine=machine,
            method=method,
            digest=digest,
            epoch=epoch,
            state=CallState(state),
            started_at=started_at,
            result=MachineCallResult.model_validate_json(result_json) if result_json is not None else None,
        )

    def summary(self, run_id: str | None = None) -> list[RunCalls]:
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        and_where = "AND run_id = ?" if run_id is not None else ""
        q = self._conn.execute
        run_ids = {
            r
            for (r,) in q(
                f"SELECT run_id FROM runs {where} UNION SELECT run_id FROM calls {where} "
                f"UNION SELECT run_id FROM performed {where}",
                params * 3,
            )
        }
        performed: dict[str, int] = {}
        duplicated: dict[str, list[int]] = {}
        for rid, seq, n in q(
            f"SELECT run_id, sequence, count(*) FROM performed {where} GROUP BY run_id, sequence ORDER BY sequence",
            params,
        ):
            performed[rid] = performed.get(rid, 0) + n
            if n > 1:
                duplicated.setdefault(rid, []).append(seq)
        max_sequence = dict(q(f"SELECT run_id, max(sequence) FROM calls {where} GROUP BY run_id", params).fetchall())
        unknown: dict[str, list[int]] = {}
        for rid, seq in q(
            f"SELECT run_id, sequence FROM calls WHERE state = 'started' {and_where} ORDER BY sequence", params
        ):
            unknown.setdefault(rid, []).append(seq)
        return [
            RunCalls(
                rid, performed.get(rid, 0), duplicated.get(rid, []), unknown.get(rid, []), max_sequence.get(rid, 0)
            )
            for rid in sorted(run_ids)
        ]


def _identity(call: StoredCall) -> tuple[str, str, int, str, str, str]:
    return call.key, call.run_id, call.sequence, call.machine, call.method, call.digest


def _migrate(conn: sqlite3.Connection, target: str) -> None:
    _check_version(conn, target)
    conn.executescript(_SCHEMA)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _check_version(conn: sqlite3.Connection, target: str) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StateFileError(
            f"{target} was written by a newer agent (schema {version}, this agent knows {SCHEMA_VERSION})"
        )
