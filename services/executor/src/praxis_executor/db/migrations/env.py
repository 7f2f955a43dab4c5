"""Alembic environment of the executor schema (async, version table inside the schema)."""

from praxis_executor.db.tables import metadata
from praxis_servicekit.migrations import run_env

run_env(metadata)
