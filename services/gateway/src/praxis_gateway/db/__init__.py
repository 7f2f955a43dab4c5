"""The gateway schema: tables and its Alembic history."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
