"""Alembic environment of the scheduler schema (async, version table inside the schema)."""

from praxis_scheduler.db.tables import metadata
from praxis_servicekit.migrations import run_env

run_env(metadata)
