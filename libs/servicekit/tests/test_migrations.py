"""Per-service Alembic: ``serve`` checks the schema is at head; ``migrate`` brings it there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_servicekit.migrations import SchemaBehind, check_at_head, head_revision, upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.fixture
async def schema(engine: AsyncEngine, unique_id: str) -> AsyncIterator[str]:
    name = f"mig_{unique_id}"
    yield name
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


async def upgrade(alembic_dir: Any, pg_dsn: str, schema: str) -> None:
    # Alembic is synchronous and run_env runs its own event loop: keep it off the test's loop.
    await asyncio.to_thread(upgrade_to_head, alembic_dir.path, pg_dsn, schema)


async def regclass(engine: AsyncEngine, name: str) -> str | None:
    async with engine.connect() as conn:
        value = await conn.scalar(sa.text("SELECT to_regclass(:name)::text"), {"name": name})
        return str(value) if value is not None else None


async def test_check_at_head_refuses_an_empty_schema_and_passes_after_upgrade(
    engine: AsyncEngine, pg_dsn: str, alembic_dir: Any, schema: str
) -> None:
    with pytest.raises(
        SchemaBehind,
        match=rf"schema '{schema}' is at revision \(none\) but this demo needs 0001: "
        r"run `praxis-demo migrate` first",
    ):
        await check_at_head(engine, alembic_dir.path, schema, "demo")

    await upgrade(alembic_dir, pg_dsn, schema)

    assert await check_at_head(engine, alembic_dir.path, schema, "demo") == "0001"
    for table in ("alembic_version", "outbox", "inbox", "things"):  # the version table lives in the schema too
        assert await regclass(engine, f"{schema}.{table}") == f"{schema}.{table}"


async def test_a_new_revision_makes_the_schema_behind_until_upgraded(
    engine: AsyncEngine, pg_dsn: str, alembic_dir: Any, schema: str
) -> None:
    await upgrade(alembic_dir, pg_dsn, schema)
    alembic_dir.add_revision("0002", "0001", "more_things")
    assert head_revision(alembic_dir.path) == "0002"

    with pytest.raises(SchemaBehind, match="is at revision 0001 but this demo needs 0002"):
        await check_at_head(engine, alembic_dir.path, schema, "demo")
    await upgrade(alembic_dir, pg_dsn, schema)
    await upgrade(alembic_dir, pg_dsn, schema)  # at head already: a no-op
    assert await check_at_head(engine, alembic_dir.path, schema, "demo") == "0002"
    assert await regclass(engine, f"{schema}.more_things") == f"{schema}.more_things"


def test_head_revision_of_an_empty_history_is_an_error(alembic_dir: Any) -> None:
    for revision in (alembic_dir.path / "versions").iterdir():
        revision.unlink()
    with pytest.raises(RuntimeError, match="no Alembic revisions"):
        head_revision(alembic_dir.path)
