"""finding lifecycle: transitions, remediation evidence, root cause

Revision ID: 0069_finding_lifecycle
Revises: 0068_deploy
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0069_finding_lifecycle"
down_revision = "0068_deploy"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("finding") as batch:
        batch.add_column(sa.Column("root_cause", sa.Text(), nullable=True))
    # "In progress" was the one step between open and closed; its findings had an action.
    op.execute("UPDATE finding SET status = 'action_planned' WHERE status = 'in_progress'")
    op.create_table(
        "finding_transition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_finding_transition_finding_id", "finding_transition", ["finding_id"])
    op.create_table(
        "finding_evidence",
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), primary_key=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
    )
    op.create_index("ix_finding_evidence_evidence_id", "finding_evidence", ["evidence_id"])


def downgrade() -> None:
    op.drop_index("ix_finding_evidence_evidence_id", table_name="finding_evidence")
    op.drop_table("finding_evidence")
    op.drop_index("ix_finding_transition_finding_id", table_name="finding_transition")
    op.drop_table("finding_transition")
    op.execute("UPDATE finding SET status = 'in_progress' WHERE status IN ('action_planned', 'remediated')")
    with op.batch_alter_table("finding") as batch:
        batch.drop_column("root_cause")
