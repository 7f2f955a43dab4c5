"""Alembic environment of the gateway schema (async, version table inside the schema)."""

from praxis_gateway.db.tables import metadata
from praxis_servicekit.migrations import run_env

run_env(metadata)
