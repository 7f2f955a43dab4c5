"""The gateway's own tables (schema ``gateway``): API keys, plus the servicekit outbox and inbox.

The gateway owns no domain state; these exist so the gateway can authenticate users and, like every
service, publish through an outbox should it ever emit events of its own.
"""

from __future__ import annotations

import sqlalchemy as sa

from praxis_servicekit.db import inbox_table, outbox_table

SCHEMA = "gateway"

metadata = sa.MetaData(schema=SCHEMA)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("key_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("role IN ('scientist', 'operator', 'admin')", name="api_keys_role"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
