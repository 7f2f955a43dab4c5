"""The discovery schema: protocol sources by content hash, the definitions found in them, catalog syncs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from praxis_servicekit.db import inbox_table, outbox_table

SCHEMA = "discovery"
metadata = sa.MetaData(schema=SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

protocol_sources = sa.Table(
    "protocol_sources",
    metadata,
    sa.Column("source_hash", sa.Text, primary_key=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

protocols = sa.Table(
    "protocols",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("source_hash", sa.Text, sa.ForeignKey(protocol_sources.c.source_hash), nullable=False),
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_protocols_name", "name"),
)

catalog_syncs = sa.Table(
    "catalog_syncs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("plr_version", sa.Text, nullable=False),
    sa.Column("frontends", sa.Integer, nullable=False),
    sa.Column("backends", sa.Integer, nullable=False),
    sa.Column("resources", sa.Integer, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
