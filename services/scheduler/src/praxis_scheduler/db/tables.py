"""Tables of the ``scheduler`` schema. The Alembic revisions are the source of truth; these mirror them.

* ``runs``: the queue and every run the scheduler has seen (a finished run stays, for duration statistics
  and so a late ``SubmitRun`` for it is recognised).
* ``benches`` / ``assets``: the projection of the hardware agents' events. An asset is a bench, a machine
  (``bench/machine``) or a resource on a machine's deck (``bench/machine/resource``); asset rows are what a
  booking locks, so they are never deleted (an asset that disappears is marked ``present = false``).
* ``reservations``: time windows on assets. The exclusion constraint is the guarantee that two active
  reservations of one asset never overlap; the lock-first pattern in ``adapters/booking.py`` keeps
  concurrent bookers from deadlock-storming on it (docs/scheduler.md, Booking).
* ``force_releases``: the audit trail of administrative releases.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint

from praxis_servicekit.db import inbox_table, outbox_table

SCHEMA = "scheduler"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

_now = sa.text("now()")

runs = sa.Table(
    "runs",
    metadata,
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
    sa.Column("submitted_role", sa.Text, nullable=False, server_default=""),
    sa.Column("estimated_duration_s", sa.Float),
    sa.Column("correlation_id", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("why_waiting", sa.Text),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("scheduled_at", sa.DateTime(timezone=True)),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("assignment", JSONB),
    sa.Index("runs_status_idx", "status"),
    sa.Index("runs_protocol_finished_idx", "protocol_id", "finished_at"),
)

benches = sa.Table(
    "benches",
    metadata,
    sa.Column("bench_id", sa.Text, primary_key=True),
    sa.Column("simulated", sa.Boolean, nullable=False),
    sa.Column("host", sa.Text, nullable=False, server_default=""),
    sa.Column("agent_version", sa.Text, nullable=False, server_default=""),
    sa.Column("machines", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("heartbeat_interval_s", sa.Float, nullable=False, server_default="5"),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("offline_at", sa.DateTime(timezone=True)),
    sa.Column("offline_reason", sa.Text),
)

assets = sa.Table(
    "assets",
    metadata,
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
    sa.Index("assets_bench_idx", "bench_id"),
    sa.Index("assets_machine_idx", "machine_asset_id"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("asset_id", sa.Text, sa.ForeignKey(f"{SCHEMA}.assets.asset_id"), nullable=False),
    sa.Column("principal_id", sa.Text, nullable=False),
    sa.Column("during", TSTZRANGE, nullable=False),
    sa.Column("owner_kind", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("expires_at", sa.DateTime(timezone=True), sa.Computed("upper(during)", persisted=True)),
    sa.Column("released_at", sa.DateTime(timezone=True)),
    sa.Column("release_reason", sa.Text),
    sa.Column("released_by", sa.Text),
    sa.CheckConstraint("owner_kind IN ('run', 'user')", name="reservations_owner_kind_check"),
    sa.CheckConstraint("NOT isempty(during)", name="reservations_during_not_empty"),
    ExcludeConstraint(
        (sa.column("asset_id"), "="),
        (sa.column("during"), "&&"),
        using="gist",
        where=sa.text("released_at IS NULL"),
        name="reservations_no_overlap",
    ),
    sa.Index("reservations_owner_idx", "owner_kind", "owner", postgresql_where=sa.text("released_at IS NULL")),
)

force_releases = sa.Table(
    "force_releases",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("reservation_id", sa.Text, nullable=False),
    sa.Column("asset_id", sa.Text, nullable=False),
    sa.Column("owner_kind", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("released_by", sa.Text, nullable=False),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
)
