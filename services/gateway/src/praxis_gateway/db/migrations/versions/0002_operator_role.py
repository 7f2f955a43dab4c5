"""API keys may have the operator role (scientist < operator < admin).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "gateway"
CONSTRAINT = "api_keys_role"


def upgrade() -> None:
    op.drop_constraint(CONSTRAINT, "api_keys", schema=SCHEMA, type_="check")
    op.create_check_constraint(CONSTRAINT, "api_keys", "role IN ('scientist', 'operator', 'admin')", schema=SCHEMA)


def downgrade() -> None:
    """Refuses while operator keys exist: silently demoting or deleting someone's key is not a schema change."""
    count = op.get_bind().scalar(sa.text(f"SELECT count(*) FROM {SCHEMA}.api_keys WHERE role = 'operator'"))
    if count:
        raise RuntimeError(f"{count} API key(s) have the operator role; delete them before downgrading below 0002")
    op.drop_constraint(CONSTRAINT, "api_keys", schema=SCHEMA, type_="check")
    op.create_check_constraint(CONSTRAINT, "api_keys", "role IN ('scientist', 'admin')", schema=SCHEMA)
