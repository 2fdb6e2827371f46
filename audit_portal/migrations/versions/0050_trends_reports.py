"""coverage snapshots, compliance reports, digest preferences

Revision ID: 0050_trends_reports
Revises: 0040_requests_samples
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050_trends_reports"
down_revision = "0040_requests_samples"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "coverage_snapshot",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("framework_key", sa.String(64), nullable=False),
        sa.Column("group_key", sa.String(64), nullable=True),
        sa.Column("covered", sa.Integer(), nullable=False),
        sa.Column("applicable", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("taken_at", TZ, nullable=False),
    )
    op.create_index("ix_coverage_snapshot_day_framework", "coverage_snapshot", ["day", "framework_key"])
    op.create_table(
        "compliance_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("generated_at", TZ, nullable=False),
        sa.Column("generated_by", sa.String(100), nullable=False),
        sa.Column("pdf_evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("xlsx_evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=False),
    )
    op.create_index("ix_compliance_report_month", "compliance_report", ["month"])
    op.create_table(
        "digest_preference",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id"), primary_key=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_preference")
    op.drop_index("ix_compliance_report_month", table_name="compliance_report")
    op.drop_table("compliance_report")
    op.drop_index("ix_coverage_snapshot_day_framework", table_name="coverage_snapshot")
    op.drop_table("coverage_snapshot")
