"""The real-server fixtures: JetStream works on ``nats_url``, ``pg_dsn`` is a private database."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest

from praxis_testkit.databases import run_sync
from praxis_testkit.plugin import SecuredNats
from praxis_testkit.servers import NatsServer, PgCluster, PortInUseError, ServerStartError


async def test_nats_url_has_jetstream(nats_url: str, unique_id: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        stream = f"TESTKIT_{unique_id}"
        await js.add_stream(name=stream, subjects=[f"testkit.{unique_id}.>"])
        ack = await js.publish(f"testkit.{unique_id}.hello", b"world", headers={"Nats-Msg-Id": "m1"})
        assert (ack.stream, ack.seq) == (stream, 1)
        msg = await js.get_msg(stream, 1)
        assert msg.data == b"world"
        await js.delete_stream(stream)
    finally:
        await nc.close()


async def test_pg_dsn_is_a_private_database_with_btree_gist(pg_dsn: str) -> None:
    database = urlsplit(pg_dsn).path.lstrip("/")
    assert database.startswith("praxis_test_")
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") == database
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        await conn.execute(
            "CREATE TABLE r (asset int, during tstzrange, EXCLUDE USING gist (asset WITH =, during WITH &&))"
        )
        await conn.execute("INSERT INTO r VALUES (1, tstzrange(now(), now() + interval '1 hour'))")
        with pytest.raises(asyncpg.exceptions.ExclusionViolationError):
            await conn.execute("INSERT INTO r VALUES (1, tstzrange(now(), now() + interval '2 hours'))")
    finally:
        await conn.close()


def test_unique_id_is_short_hex(unique_id: str) -> None:
    assert len(unique_id) == 8
    int(unique_id, 16)


def test_busy_port_is_reported_before_starting() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError, match=str(port)):
            NatsServer(port=port).start()
        with pytest.raises(PortInUseError, match=str(port)):
            PgCluster(port=port).start()


async def _sql(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_persistent_pg_data_dir_is_reused() -> None:
    # Not in pytest's tmp_path: that is root-only, and the `postgres` OS user must reach the data dir.
    base = Path(tempfile.mkdtemp(prefix="praxis-testkit-"))
    base.chmod(0o755)
    try:
        with PgCluster(data_dir=base / "pg", durable=False) as first:
            run_sync(lambda: _sql(first.dsn, "CREATE TABLE kept AS SELECT 42 AS v"))
        with PgCluster(data_dir=base / "pg", durable=False) as second:
            assert run_sync(lambda: _sql(second.dsn, "SELECT v FROM kept")) == 42
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs Postgres as another OS user")
def test_unreachable_pg_data_dir_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match="cannot write"):
        PgCluster(data_dir=tmp_path / "pg").start()


async def test_secured_nats_refuses_a_client_without_credentials_and_accepts_each_identity(
    secured_nats: SecuredNats,
) -> None:
    with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
        await nats.connect(secured_nats.url, allow_reconnect=False)
    for identity in ("discovery", "scheduler", "executor", "gateway", "agent-sim-bench-1"):
        nc = await nats.connect(secured_nats.url, user_credentials=str(secured_nats.creds(identity)))
        await nc.close()
    assert secured_nats.worker_signer.is_file() and secured_nats.creds_dir.is_dir()


def test_a_missing_authorization_config_is_a_clear_start_error(tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match="cannot read the NATS authorization config"):
        NatsServer(auth_config=tmp_path / "auth.conf").start()
