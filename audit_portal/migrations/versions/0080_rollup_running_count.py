"""coverage rollup: a running count per requirement over the cells not superseded

Revision ID: 0080_rollup_running_count
Revises: 0079_corrupted_index
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0080_rollup_running_count"
down_revision = "0079_corrupted_index"
branch_labels = None
depends_on = None

SUPERSEDED = sa.text("superseded_on IS NOT NULL")


def upgrade() -> None:
    op.add_column("coverage_rollup", sa.Column("running_count", sa.Integer(), nullable=True))
    # One window over the cells not superseded, per requirement in day order (the same SQL on
    # PostgreSQL and on SQLite 3.33 or newer).
    op.execute(
        "UPDATE coverage_rollup SET running_count = running.total FROM ("
        " SELECT id, sum(evidence_count) OVER (PARTITION BY requirement_id ORDER BY collected_on) AS total"
        " FROM coverage_rollup WHERE superseded_on IS NULL"
        ") AS running WHERE running.id = coverage_rollup.id"
    )
    op.create_index(
        "ix_coverage_rollup_superseded_on",
        "coverage_rollup",
        ["superseded_on", "collected_on"],
        postgresql_where=SUPERSEDED,
        sqlite_where=SUPERSEDED,
    )


def downgrade() -> None:
    op.drop_index("ix_coverage_rollup_superseded_on", table_name="coverage_rollup")
    with op.batch_alter_table("coverage_rollup") as batch:
        batch.drop_column("running_count")
