"""Alembic per service: one history per schema, its version table inside that schema.

Each service's ``db/migrations/env.py`` is two lines calling :func:`run_env`; ``praxis-<svc> migrate`` calls
:func:`upgrade_to_head`; ``serve`` calls :func:`check_at_head` and refuses to start on a schema that is behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_servicekit.db import asyncpg_url, make_engine


class SchemaBehind(RuntimeError):
    """The database schema is not at the code's Alembic head."""


def alembic_config(script_location: str | Path, url: str, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", asyncpg_url(url).replace("%", "%%"))
    cfg.attributes["praxis_schema"] = schema
    return cfg


def upgrade_to_head(script_location: str | Path, url: str, schema: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, url, schema), revision)


def head_revision(script_location: str | Path) -> str:
    script = ScriptDirectory(str(script_location))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions in {script_location}")
    return head


async def current_revision(engine: AsyncEngine, schema: str) -> str | None:
    async with engine.connect() as conn:
        exists = await conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": f"{schema}.alembic_version"})
        if exists is None:
            return None
        revision = await conn.scalar(sa.text(f'SELECT version_num FROM "{schema}".alembic_version'))
        return str(revision) if revision is not None else None


async def check_at_head(engine: AsyncEngine, script_location: str | Path, schema: str, service: str) -> str:
    """Return the current revision, or raise :class:`SchemaBehind` with what to run."""
    head = head_revision(script_location)
    current = await current_revision(engine, schema)
    if current != head:
        raise SchemaBehind(
            f"schema '{schema}' is at revision {current or '(none)'} but this {service} needs {head}: "
            f"run `praxis-{service} migrate` first"
        )
    return current


def run_env(target_metadata: sa.MetaData) -> None:
    """The body of every service's ``env.py`` (online, async)."""
    config = context.config
    schema = config.attributes.get("praxis_schema") or target_metadata.schema
    url = config.get_main_option("sqlalchemy.url")
    assert url and schema, "alembic config needs sqlalchemy.url and a schema"

    def do_run(connection: sa.Connection) -> None:
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = make_engine(url, pool_size=1)
        async with engine.begin() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    asyncio.run(main())
