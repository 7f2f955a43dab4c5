"""Scheduler schema: outbox/inbox, runs, bench and asset projection, reservations with an exclusion constraint.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint

from praxis_servicekit.db import outbox_inbox_ddl

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scheduler"


def upgrade() -> None:
    op.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
    # btree_gist lets one GiST index combine "asset_id =" with "during &&" (the exclusion constraint).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for ddl in outbox_inbox_ddl(SCHEMA):
        op.execute(ddl)

    now = sa.text("now()")
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("protocol_id", sa.Text, nullable=False, server_default=""),
        sa.Column("protocol_name", sa.Text, nullable=False, server_default=""),
        sa.Column("source_hash", sa.Text, nullable=False, server_default=""),
        sa.Column("function", sa.Text, nullable=False, server_default=""),
        sa.Column("parameters", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("requirements", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("pins", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("simulate", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("allow_real_hardware", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("submitted_by", sa.Text, nullable=False, server_default="anonymous"),
        sa.Column("estimated_duration_s", sa.Float),
        sa.Column("correlation_id", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("why_waiting", sa.Text),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("scheduled_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("assignment", JSONB),
        schema=SCHEMA,
    )
    op.create_index("runs_status_idx", "runs", ["status"], schema=SCHEMA)
    op.create_index("runs_protocol_finished_idx", "runs", ["protocol_id", "finished_at"], schema=SCHEMA)

    op.create_table(
        "benches",
        sa.Column("bench_id", sa.Text, primary_key=True),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("host", sa.Text, nullable=False, server_default=""),
        sa.Column("agent_version", sa.Text, nullable=False, server_default=""),
        sa.Column("machines", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("heartbeat_interval_s", sa.Float, nullable=False, server_default="5"),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline_at", sa.DateTime(timezone=True)),
        sa.Column("offline_reason", sa.Text),
        schema=SCHEMA,
    )

    op.create_table(
        "assets",
        sa.Column("asset_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("bench_id", sa.Text, nullable=False),
        sa.Column("machine_asset_id", sa.Text),
        sa.Column("machine", sa.Text),
        sa.Column("resource", sa.Text),
        sa.Column("plr_type", sa.Text, nullable=False, server_default=""),
        sa.Column("type_chain", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("category", sa.Text),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("capabilities", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("status", sa.Text, nullable=False, server_default="idle"),
        sa.Column("present", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.CheckConstraint("kind IN ('bench', 'machine', 'resource')", name="assets_kind_check"),
        schema=SCHEMA,
    )
    op.create_index("assets_bench_idx", "assets", ["bench_id"], schema=SCHEMA)
    op.create_index("assets_machine_idx", "assets", ["machine_asset_id"], schema=SCHEMA)

    op.create_table(
        "reservations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("asset_id", sa.Text, sa.ForeignKey(f"{SCHEMA}.assets.asset_id"), nullable=False),
        sa.Column("principal_id", sa.Text, nullable=False),
        sa.Column("during", TSTZRANGE, nullable=False),
        sa.Column("owner_kind", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("expires_at", sa.DateTime(timezone=True), sa.Computed("upper(during)", persisted=True)),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("release_reason", sa.Text),
        sa.Column("released_by", sa.Text),
        sa.CheckConstraint("owner_kind IN ('run', 'user')", name="reservations_owner_kind_check"),
        sa.CheckConstraint("NOT isempty(during)", name="reservations_during_not_empty"),
        # The guarantee: two active reservations of one asset never overlap, whatever the application does.
        ExcludeConstraint(
            (sa.column("asset_id"), "="),
            (sa.column("during"), "&&"),
            using="gist",
            where=sa.text("released_at IS NULL"),
            name="reservations_no_overlap",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "reservations_owner_idx", "reservations", ["owner_kind", "owner"], schema=SCHEMA,
        postgresql_where=sa.text("released_at IS NULL"),
    )

    op.create_table(
        "force_releases",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("reservation_id", sa.Text, nullable=False),
        sa.Column("asset_id", sa.Text, nullable=False),
        sa.Column("owner_kind", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("released_by", sa.Text, nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in ("force_releases", "reservations", "assets", "benches", "runs", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
