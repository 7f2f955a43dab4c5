"""Faults that must not hurt a run: Postgres going away in the middle of it, and a hardware agent restarting.

A stack of its own here (own Postgres, own NATS): stopping the database must not disturb the other end-to-end tests.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from praxis_testkit.databases import ensure_database
from praxis_testkit.servers import NatsServer, PgCluster, free_port
from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "protocols"
CYCLES = 1500
CALLS = 3 + 2 * CYCLES + 1


class OwnDatabase:
    """A Postgres that a test may stop and start again on the same port and data."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.cluster: PgCluster | None = None

    def start(self) -> str:
        self.cluster = PgCluster(data_dir=self.root / "pg", port=self.port, durable=False).start()
        return ensure_database(self.cluster.dsn, "praxis")

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory: pytest.TempPathFactory, boot: Any) -> Iterator[tuple[Any, OwnDatabase]]:
    work = tmp_path_factory.mktemp("outages")
    pg_root = Path(tempfile.mkdtemp(prefix="praxis-outage-"))  # pytest's temp root is not reachable by `postgres`
    pg_root.chmod(0o755)
    db = OwnDatabase(pg_root)
    database_url = db.start()
    try:
        with NatsServer(log_file=work / "nats.log") as nats:
            stack = boot(nats.url, database_url, work)
            try:
                yield stack, db
            finally:
                stack.services.stop_all()
    finally:
        db.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


def run_of(api: httpx.Client, run_id: str) -> dict[str, Any]:
    try:
        response = api.get(f"/api/v1/runs/{run_id}", params={"steps_limit": 0})
    except httpx.HTTPError:
        return {}
    return dict(response.json()) if response.status_code == 200 else {}


def executor_health(api: httpx.Client) -> str:
    try:
        return str(api.get("/api/v1/health").json()["services"]["executor"]["status"])
    except (httpx.HTTPError, KeyError, ValueError):
        return "unknown"


def test_postgres_down_mid_run_loses_no_report_and_health_says_so(
    outage_stack: tuple[Any, OwnDatabase], agent_calls_fn: Any
) -> None:
    stack, db = outage_stack
    with stack.client() as api:
        upload = api.post(
            "/api/v1/protocols", files={"file": ("long_mix.py", (HERE / "long_mix.py").read_bytes(), "text/x-python")}
        )
        assert upload.status_code == 201, upload.text
        run_id = api.post("/api/v1/runs", json={"protocol_id": upload.json()["id"], "parameters": {"cycles": CYCLES}})
        run_id = run_id.json()["id"]
        wait_for_sync(lambda: run_of(api, run_id).get("steps_total", 0) >= 50, timeout=60, message="no progress")
        db.stop()
        wait_for_sync(lambda: executor_health(api) == "degraded", timeout=30, message="health never said degraded")
        # meanwhile the worker runs ahead of the journal by at most its report pipe, then waits for it
        db.start()
        run = wait_for_sync(
            lambda: (r := run_of(api, run_id)).get("status") in {"completed", "failed", "needs_operator"} and r,
            timeout=180,
            message="the run never ended",
        )
        assert run["status"] == "completed", run
        assert run["steps_total"] == CALLS
        record = agent_calls_fn(stack, run_id)
        assert record["performed"] == CALLS and record["duplicated"] == [], record
        wait_for_sync(lambda: executor_health(api) == "ok", timeout=30, message="health stayed degraded")


def test_a_restarting_agent_is_waited_for(outage_stack: tuple[Any, OwnDatabase], agent_calls_fn: Any) -> None:
    stack, _ = outage_stack
    with stack.client() as api:
        upload = api.post(
            "/api/v1/protocols", files={"file": ("long_mix.py", (HERE / "long_mix.py").read_bytes(), "text/x-python")}
        )
        run_id = api.post("/api/v1/runs", json={"protocol_id": upload.json()["id"], "parameters": {"cycles": 300}})
        run_id = run_id.json()["id"]
        wait_for_sync(lambda: run_of(api, run_id).get("steps_total", 0) >= 30, timeout=60, message="no progress")
        stack.kill("hardware-agent", signal.SIGKILL)
        stack.start("hardware-agent")
        run = wait_for_sync(
            lambda: (r := run_of(api, run_id)).get("status") in {"completed", "failed", "needs_operator"} and r,
            timeout=180,
            message="the run never ended",
        )
        assert run["status"] == "completed", run
        record = agent_calls_fn(stack, run_id)
        assert record["performed"] == 3 + 2 * 300 + 1 and record["duplicated"] == [], record
