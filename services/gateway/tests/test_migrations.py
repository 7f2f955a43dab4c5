"""The gateway schema migrates from an empty database, and the gateway refuses a schema behind head."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

from praxis_gateway.cli import preflight
from praxis_gateway.config import Settings
from praxis_gateway.db import MIGRATIONS
from praxis_gateway.db.tables import SCHEMA
from praxis_gateway.runtime import GatewayStartupError
from praxis_servicekit.migrations import head_revision, upgrade_to_head
from praxis_testkit.databases import create_database, drop_database

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_dsn(pg_admin_dsn: str) -> Iterator[str]:
    name = f"praxis_gw_{secrets.token_hex(4)}"
    dsn = create_database(pg_admin_dsn, name)
    yield dsn
    drop_database(pg_admin_dsn, name)


async def tables_of(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", SCHEMA)
        return {r["table_name"] for r in rows}
    finally:
        await conn.close()


class TestMigrations:
    async def test_create_the_gateway_schema_from_empty(self, empty_dsn: str) -> None:
        assert await tables_of(empty_dsn) == set()

        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, empty_dsn, SCHEMA)

        assert await tables_of(empty_dsn) == {"alembic_version", "api_keys", "outbox", "inbox"}
        conn = await asyncpg.connect(empty_dsn)
        try:
            assert await conn.fetchval("SELECT version_num FROM gateway.alembic_version") == head_revision(MIGRATIONS)
        finally:
            await conn.close()

    async def test_downgrade_and_upgrade_again(self, empty_dsn: str) -> None:
        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, empty_dsn, SCHEMA)
        from alembic import command

        from praxis_servicekit.migrations import alembic_config

        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, empty_dsn, SCHEMA), "base")
        assert await tables_of(empty_dsn) == {"alembic_version"}
        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, empty_dsn, SCHEMA)
        assert "api_keys" in await tables_of(empty_dsn)

    async def test_serve_refuses_a_schema_behind_head(self, empty_dsn: str, nats_url: str) -> None:
        settings = Settings(nats_url=nats_url, database_url=empty_dsn)

        with pytest.raises(GatewayStartupError, match="praxis-gateway migrate"):
            await preflight(settings)

    async def test_serve_accepts_a_schema_at_head(self, gateway_dsn: str, nats_url: str) -> None:
        await preflight(Settings(nats_url=nats_url, database_url=gateway_dsn))

    async def test_0002_admits_operator_keys_and_will_not_downgrade_over_them(self, empty_dsn: str) -> None:
        from alembic import command

        from praxis_servicekit.migrations import alembic_config

        await asyncio.to_thread(upgrade_to_head, MIGRATIONS, empty_dsn, SCHEMA)
        insert = "INSERT INTO gateway.api_keys (id, name, role, key_sha256) VALUES ($1, $2, $3, $4)"
        conn = await asyncpg.connect(empty_dsn)
        try:
            await conn.execute(insert, "k1", "olga", "operator", "h1")
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(insert, "k2", "root", "superuser", "h2")
        finally:
            await conn.close()
        config = alembic_config(MIGRATIONS, empty_dsn, SCHEMA)

        with pytest.raises(RuntimeError, match="operator role"):
            await asyncio.to_thread(command.downgrade, config, "0001")
