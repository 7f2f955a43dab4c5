"""Alembic environment of the discovery schema (async, version table inside the schema)."""

from praxis_discovery.db.tables import metadata
from praxis_servicekit.migrations import run_env

run_env(metadata)
