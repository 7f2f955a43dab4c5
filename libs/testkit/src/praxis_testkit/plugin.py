"""The Praxis pytest plugin (loaded by the root config with ``-p praxis_testkit.plugin``).

Fixtures, all lazy (a server starts only when a test in the session asks for it, once per session):

* ``nats_url`` (session): ``PRAXIS_NATS_URL`` if set, else a fresh JetStream nats-server on a random port.
  Shared by the whole session: tests use :func:`unique_id` in stream/subject names to stay apart.
* ``pg_admin_dsn`` (session): a DSN of the server's maintenance database - ``PRAXIS_DATABASE_URL`` if set,
  else a fresh non-durable PgCluster on a random port.
* ``pg_dsn`` (session): a database ``praxis_test_<hex>`` created for this session on that server and
  dropped at the end, so a developer's data and other sessions are never touched. Always
  ``postgresql://...`` (asyncpg style); SQLAlchemy users swap in ``postgresql+asyncpg``.
* ``unique_id`` (function): a short random hex string.
* ``service_stack`` (function): a :class:`~praxis_testkit.services.ServiceStack` logging to ``tmp_path``,
  stopped after the test.

The fixtures are synchronous on purpose: they need no event loop, so they can't clash with the
session loop pytest-asyncio runs tests in.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from praxis_testkit.databases import create_database, drop_database, libpq_dsn
from praxis_testkit.servers import NatsServer, PgCluster
from praxis_testkit.services import ServiceStack

__all__ = ["nats_url", "pg_admin_dsn", "pg_dsn", "service_stack", "unique_id"]


def _hex(nbytes: int = 4) -> str:
    return secrets.token_hex(nbytes)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a NATS server with JetStream (``nats://127.0.0.1:PORT``)."""
    external = os.environ.get("PRAXIS_NATS_URL")
    if external:
        yield external
        return
    # Temp store (deleted at the end); the log stays in pytest's basetemp for post-mortems.
    log = tmp_path_factory.mktemp("nats") / "nats-server.log"
    with NatsServer(log_file=log) as server:
        yield server.url


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """DSN of a database on the test Postgres server from which databases can be created/dropped."""
    external = os.environ.get("PRAXIS_DATABASE_URL")
    if external:
        yield libpq_dsn(external)
        return
    with PgCluster(durable=False) as cluster:
        yield cluster.dsn


@pytest.fixture(scope="session")
def pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """DSN of a fresh, empty database ``praxis_test_<hex>`` that exists for the whole session."""
    name = f"praxis_test_{_hex(6)}"
    dsn = create_database(pg_admin_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def unique_id() -> str:
    """A short random hex string for names that must not collide (streams, subjects, rows)."""
    return _hex(4)


@pytest.fixture
def service_stack(tmp_path: Path) -> Iterator[ServiceStack]:
    """A ServiceStack for this test: ``service_stack.start("praxis-x", ["serve"], env)``; stopped afterwards."""
    stack = ServiceStack(tmp_path / "service-logs", base_env={})
    try:
        yield stack
    finally:
        stack.stop_all()
