"""The scheduler's Postgres schema (``scheduler``): tables and Alembic history."""
