"""Every service with a schema migrates an empty database to head, and ``serve`` refuses one that is behind
(with a one-line message naming the command to run, not a traceback)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from praxis_testkit.databases import create_database, drop_database
from praxis_testkit.services import console_script

pytestmark = pytest.mark.integration

SERVICES = ("discovery", "scheduler", "executor", "gateway")


@pytest.fixture
def empty_db(pg_admin_dsn: str, unique_id: str) -> Iterator[str]:
    name = f"praxis_mig_{unique_id}"
    url = create_database(pg_admin_dsn, name)
    yield url
    drop_database(pg_admin_dsn, name)


def praxis(service: str, command: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRAXIS_DATABASE_URL": database_url,
        "PRAXIS_NATS_URL": "nats://127.0.0.1:9",  # never reached: the schema check comes first
        "PRAXIS_GATEWAY_PORT": "0",
    }
    return subprocess.run(
        [str(console_script(f"praxis-{service}")), command], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("service", SERVICES)
def test_serve_refuses_an_unmigrated_schema_then_migrate_brings_it_to_head(service: str, empty_db: str) -> None:
    refused = praxis(service, "serve", empty_db)
    assert refused.returncode != 0
    assert f"praxis-{service} migrate" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr

    migrated = praxis(service, "migrate", empty_db)
    assert migrated.returncode == 0, migrated.stderr
    again = praxis(service, "migrate", empty_db)  # idempotent
    assert again.returncode == 0, again.stderr
