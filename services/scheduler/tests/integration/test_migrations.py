"""The Alembic history is the source of truth: migrated from empty, the schema matches ``db/tables.py``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from praxis_scheduler.db.tables import metadata


class TestMigrations:
    async def test_head_matches_the_table_definitions(self, engine):
        def ours(name, type_, parent):
            if type_ == "schema":
                return name == "scheduler"
            return not (type_ == "table" and name == "alembic_version")

        def diff(sync_conn):
            ctx = MigrationContext.configure(sync_conn, opts={"include_schemas": True, "include_name": ours})
            return compare_metadata(ctx, metadata)

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == []

    async def test_the_exclusion_constraint_and_btree_gist_exist(self, engine):
        async with engine.connect() as conn:
            ext = await conn.scalar(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'"))
            con = await conn.scalar(
                sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'reservations_no_overlap'")
            )
        assert ext == 1
        assert con == "EXCLUDE USING gist (asset_id WITH =, during WITH &&) WHERE ((released_at IS NULL))"
