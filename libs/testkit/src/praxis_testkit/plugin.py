"""The Praxis pytest plugin (loaded by the root config with ``-p praxis_testkit.plugin``).

Fixtures, all lazy (a server starts only when a test in the session asks for it, once per session):

* ``nats_url`` (session): ``PRAXIS_NATS_URL`` if set, else a fresh JetStream nats-server on a random port.
  Shared by the whole session: tests use :func:`unique_id` in stream/subject names to stay apart.
* ``pg_admin_dsn`` (session): a DSN of the server's maintenance database - ``PRAXIS_DATABASE_URL`` if set,
  else a fresh non-durable PgCluster on a random port.
* ``pg_dsn`` (session): a database ``praxis_test_<hex>`` created for this session on that server and
  dropped at the end, so a developer's data and other sessions are never touched. Always
  ``postgresql://...`` (asyncpg style); SQLAlchemy users swap in ``postgresql+asyncpg``.
* ``secured_nats`` (session): a JetStream nats-server in operator mode with a generated authorization (the same
  set ``praxis-admin nats-init`` writes, for bench ``sim-bench-1``), refusing anyone without credentials: a
  :class:`SecuredNats` with its URL and the creds of every identity. ``nats_url`` stays without authorization
  for the many tests that connect as plain clients.
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from praxis_testkit.databases import create_database, drop_database, libpq_dsn
from praxis_testkit.servers import NatsServer, PgCluster
from praxis_testkit.services import ServiceStack

if TYPE_CHECKING:  # imported where used: loading the plugin must stay cheap for every test session
    from praxis_natsauth.authdir import AuthDir

__all__ = ["SecuredNats", "nats_url", "pg_admin_dsn", "pg_dsn", "secured_nats", "service_stack", "unique_id"]

SECURED_BENCHES = ("sim-bench-1",)
"""The benches ``secured_nats`` has agent creds for; ``praxis_natsauth.add_bench(auth_dir, id)`` adds one (no
restart needed)."""


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


@dataclass(frozen=True)
class SecuredNats:
    """A running nats-server that enforces the Praxis permissions, and the directory of its authorization."""

    url: str
    auth_dir: Path
    admin_creds: Path
    """A user of the Praxis account allowed everything: for tests that watch or set up, never for the code
    under test."""

    def creds(self, identity: str) -> Path:
        """The creds file of ``discovery``, ``scheduler``, ``executor``, ``gateway`` or ``agent-<bench>``."""
        return self.auth_dir / "creds" / f"{identity}.creds"

    @property
    def creds_dir(self) -> Path:
        return self.auth_dir / "creds"

    @property
    def worker_signer(self) -> Path:
        """The executor's signer file (``PRAXIS_EXECUTOR_WORKER_SIGNER``) for minting run-worker creds."""
        return self.auth_dir / "worker-signer.nk"


@pytest.fixture(scope="session")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredNats]:
    """A nats-server in operator mode (temp store, random port) with a fresh authorization in a temp dir."""
    from praxis_natsauth.authdir import AuthDir, init_dir

    root = tmp_path_factory.mktemp("nats-auth")
    init_dir(root, SECURED_BENCHES)
    admin = _write_admin_creds(AuthDir(root))
    log = tmp_path_factory.mktemp("secured-nats") / "nats-server.log"
    with NatsServer(log_file=log, auth_config=AuthDir(root).auth_config) as server:
        yield SecuredNats(server.url, root, admin)


def _write_admin_creds(auth: AuthDir) -> Path:
    from praxis_contracts.permissions import Grant
    from praxis_natsauth.authdir import PRAXIS_ACCOUNT
    from praxis_natsauth.creds import format_creds, write_secret
    from praxis_natsauth.jwt import user_jwt
    from praxis_natsauth.keys import KeyKind, from_seed, new_key

    account = from_seed(auth.account_seed(PRAXIS_ACCOUNT).read_text(), KeyKind.ACCOUNT)
    user = new_key(KeyKind.USER)
    jwt = user_jwt(account, user.public_key, "test-admin", grant=Grant("test-admin", (">",), (">",)))
    path = auth.root / "test-admin.creds"
    write_secret(path, format_creds(jwt, user))
    return path


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
