"""The executor's schema: runs (with their owner and lease), the per-run event log (the WebSocket replay source),
the call journal (what a replay answers from), the inputs a replay rebuilds the deck from, and outputs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSON, JSONB

from praxis_servicekit.db import inbox_table, outbox_table

SCHEMA = "executor"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("protocol_id", sa.Text, nullable=False, server_default=""),
    sa.Column("protocol_name", sa.Text, nullable=False, server_default=""),
    sa.Column("source_hash", sa.Text, nullable=False, server_default=""),
    sa.Column("function", sa.Text, nullable=False, server_default=""),
    sa.Column("parameters", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("simulate", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("assignment", JSONB),
    sa.Column("error", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pause_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_step", sa.Integer, nullable=False, server_default="0"),
    sa.Column("owner", sa.Text),  # the executor instance driving the run
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),  # another replica may take over after this
    sa.Column("worker_epoch", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker_pid", sa.Integer),
    sa.Column("parked", JSONB),
    sa.Column("recovery", JSONB),
    sa.Column("crashes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("crash_step", sa.Integer, nullable=False, server_default="0"),
    sa.Column("outputs_size", sa.Integer, nullable=False, server_default="0"),
    sa.Column("submitted_by", sa.Text, nullable=False, server_default=""),
    sa.Column("submitted_role", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_created_at", "created_at"),
    sa.Index("ix_runs_owner", "owner", postgresql_where=sa.text("owner IS NOT NULL")),
)

run_events = sa.Table(
    "run_events",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("event", JSONB, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("bench_id", sa.Text, nullable=False),
    sa.Column("machine", sa.Text, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    # json, not jsonb, here and in run_inputs: PLR's serialized objects depend on key order, which jsonb drops
    sa.Column("args", JSON, nullable=False),
    sa.Column("result", JSON),
    sa.Column("error", sa.Text),
    sa.Column("error_type", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("state_diff", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("replayed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("filename", sa.Text),
    sa.Column("benches", JSON, nullable=False),  # bench id -> BenchDescription as the first worker saw it
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

run_outputs = sa.Table(
    "run_outputs",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("data", sa.Text, nullable=False),  # the outputs as JSON text
    sa.Column("size", sa.Integer, nullable=False),
)
