"""evidence, SoA, engagements with reviews, findings

Revision ID: 0020_evidence_reviews
Revises: 0010_catalogue
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_evidence_reviews"
down_revision = "0010_catalogue"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("token_id", sa.Integer(), sa.ForeignKey("service_token.id"), nullable=True),
        sa.Column("collector_instance", sa.String(100), nullable=True),
        sa.Column("collector_run_id", sa.Integer(), nullable=True),
        sa.Column("artifact_kind", sa.String(16), nullable=True),
        sa.Column("collected_at", TZ, nullable=False),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("original_filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("store_key", sa.String(255), nullable=False),
        sa.Column("retention_until", sa.Date(), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=True),
        sa.Column("superseded_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_evidence_collected_at_id", "evidence", ["collected_at", "id"])
    op.create_index("ix_evidence_uploaded_by_id", "evidence", ["uploaded_by_id"])
    op.create_index("ix_evidence_collector_instance", "evidence", ["collector_instance"])
    op.create_index("ix_evidence_collector_run_id", "evidence", ["collector_run_id"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])
    op.create_index("ix_evidence_supersedes_id", "evidence", ["supersedes_id"])
    op.create_table(
        "evidence_requirement",
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("requirement_id", sa.Integer(), sa.ForeignKey("requirement.id"), primary_key=True),
    )
    op.create_index("ix_evidence_requirement_requirement_id", "evidence_requirement", ["requirement_id"])
    op.create_table(
        "evidence_control",
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), primary_key=True),
    )
    op.create_index("ix_evidence_control_control_id", "evidence_control", ["control_id"])
    op.create_table(
        "evidence_signoff",
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("signed_by_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("signed_at", TZ, nullable=False),
        sa.Column("remark", sa.Text(), nullable=False),
    )
    op.create_table(
        "soa_entry",
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), primary_key=True),
        sa.Column("applicable", sa.Boolean(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=True),
    )
    op.create_table(
        "engagement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("framework_key", sa.String(64), sa.ForeignKey("framework.key"), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("scope_note", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
    )
    op.create_table(
        "engagement_auditor",
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), primary_key=True),
    )
    op.create_index("ix_engagement_auditor_user_id", "engagement_auditor", ["user_id"])
    op.create_table(
        "engagement_scope",
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), primary_key=True),
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), primary_key=True),
    )
    op.create_table(
        "evidence_review",
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), primary_key=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("reviewed_at", TZ, nullable=False),
    )
    op.create_index("ix_evidence_review_evidence_id", "evidence_review", ["evidence_id"])
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.String(300), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("collector_instance", sa.String(100), nullable=True),
        sa.Column("first_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=True),
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), nullable=True),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("corrective_action", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
    )
    for column in ("key", "status", "collector_instance", "last_run_id", "evidence_id", "engagement_id"):
        op.create_index(f"ix_finding_{column}", "finding", [column])
    op.create_table(
        "finding_control",
        sa.Column("finding_id", sa.Integer(), sa.ForeignKey("finding.id"), primary_key=True),
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), primary_key=True),
    )
    op.create_index("ix_finding_control_control_id", "finding_control", ["control_id"])


def downgrade() -> None:
    for table in (
        "finding_control",
        "finding",
        "evidence_review",
        "engagement_scope",
        "engagement_auditor",
        "engagement",
        "soa_entry",
        "evidence_signoff",
        "evidence_control",
        "evidence_requirement",
        "evidence",
    ):
        op.drop_table(table)
