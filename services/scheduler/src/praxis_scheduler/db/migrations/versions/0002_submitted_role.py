"""Remember the submitter's role with the run: the executor decides from it whether a protocol may run on a host
whose worker sandbox lacks a layer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE scheduler.runs ADD COLUMN submitted_role TEXT DEFAULT '' NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE scheduler.runs DROP COLUMN submitted_role")
