"""Run ownership (owner, lease, worker epoch), parking and operator recovery, a faithful journal for replay,
the inputs a replay needs, and outputs stored apart from the run row.

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

STATEMENTS = [
    "ALTER TABLE executor.runs RENAME COLUMN worker_instance TO owner",
    "ALTER TABLE executor.runs ADD COLUMN lease_expires_at TIMESTAMP WITH TIME ZONE",
    "ALTER TABLE executor.runs ADD COLUMN worker_epoch INTEGER DEFAULT 0 NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN pause_requested BOOLEAN DEFAULT false NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN parked JSONB",
    "ALTER TABLE executor.runs ADD COLUMN recovery JSONB",
    "ALTER TABLE executor.runs ADD COLUMN crashes INTEGER DEFAULT 0 NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN crash_step INTEGER DEFAULT 0 NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN outputs_size INTEGER DEFAULT 0 NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN submitted_by TEXT DEFAULT '' NOT NULL",
    "ALTER TABLE executor.runs ADD COLUMN submitted_role TEXT DEFAULT '' NOT NULL",
    "CREATE INDEX ix_runs_owner ON executor.runs (owner) WHERE owner IS NOT NULL",
    "ALTER TABLE executor.steps ADD COLUMN error_type TEXT",
    "ALTER TABLE executor.steps ADD COLUMN error_message TEXT",
    "ALTER TABLE executor.steps ADD COLUMN replayed BOOLEAN DEFAULT false NOT NULL",
    # json, not jsonb: a replay rebuilds PyLabRobot objects from these, and PLR's serialized forms depend on the
    # order of object keys (a plate's ``ordering``), which jsonb does not keep
    "ALTER TABLE executor.steps ALTER COLUMN args TYPE JSON USING args::json",
    "ALTER TABLE executor.steps ALTER COLUMN result TYPE JSON USING result::json",
    """CREATE TABLE executor.run_inputs (
	run_id TEXT NOT NULL,
	filename TEXT,
	benches JSON NOT NULL,
	created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
	PRIMARY KEY (run_id)
)""",
    """CREATE TABLE executor.run_outputs (
	run_id TEXT NOT NULL,
	data TEXT NOT NULL,
	size INTEGER NOT NULL,
	PRIMARY KEY (run_id)
)""",
    """INSERT INTO executor.run_outputs (run_id, data, size)
       SELECT id, outputs::text, octet_length(outputs::text) FROM executor.runs WHERE outputs <> '{}'::jsonb""",
    "UPDATE executor.runs r SET outputs_size = o.size FROM executor.run_outputs o WHERE o.run_id = r.id",
    "ALTER TABLE executor.runs DROP COLUMN outputs",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE executor.runs ADD COLUMN outputs JSONB DEFAULT '{}'::jsonb NOT NULL")
    op.execute(
        "UPDATE executor.runs r SET outputs = o.data::jsonb FROM executor.run_outputs o WHERE o.run_id = r.id"
    )
    for table in ("executor.run_outputs", "executor.run_inputs"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP INDEX IF EXISTS executor.ix_runs_owner")
    op.execute("ALTER TABLE executor.steps ALTER COLUMN args TYPE JSONB USING args::jsonb")
    op.execute("ALTER TABLE executor.steps ALTER COLUMN result TYPE JSONB USING result::jsonb")
    for column in ("error_type", "error_message", "replayed"):
        op.execute(f"ALTER TABLE executor.steps DROP COLUMN {column}")
    for column in (
        "lease_expires_at", "worker_epoch", "pause_requested", "parked", "recovery", "crashes", "crash_step",
        "outputs_size", "submitted_by", "submitted_role",
    ):
        op.execute(f"ALTER TABLE executor.runs DROP COLUMN {column}")
    op.execute("ALTER TABLE executor.runs RENAME COLUMN owner TO worker_instance")
