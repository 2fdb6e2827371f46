"""rule decisions of firewall reviews; an index for the audit events about one object

Revision ID: 0074_rule_decisions
Revises: 0071_performance
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0074_rule_decisions"
down_revision = "0073_sampling_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("collector_run.id"), nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("rule_label", sa.String(300), nullable=False),
        sa.Column("rule_text", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "rule_index"),
    )
    op.create_index("ix_rule_decision_run_id", "rule_decision", ["run_id"])
    # the auditor's trail reads the events about the evidence and runs of an engagement
    op.create_index("ix_audit_event_object", "audit_event", ["object_type", "object_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_object", table_name="audit_event")
    op.drop_index("ix_rule_decision_run_id", table_name="rule_decision")
    op.drop_table("rule_decision")
