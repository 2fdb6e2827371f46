"""evidence requests and their answers, samples and their items

Revision ID: 0040_requests_samples
Revises: 0030_collection
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_requests_samples"
down_revision = "0030_collection"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evidence_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), nullable=True),
        sa.Column("requirement_id", sa.Integer(), sa.ForeignKey("requirement.id"), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("answered_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
    )
    for column in ("engagement_id", "control_id", "requirement_id", "state"):
        op.create_index(f"ix_evidence_request_{column}", "evidence_request", [column])
    op.create_table(
        "evidence_request_item",
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("evidence_request.id"), primary_key=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("linked_at", TZ, nullable=False),
    )
    op.create_index("ix_evidence_request_item_evidence_id", "evidence_request_item", ["evidence_id"])
    op.create_table(
        "sample",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("engagement_id", sa.Integer(), sa.ForeignKey("engagement.id"), nullable=False),
        sa.Column("population_description", sa.Text(), nullable=False),
        sa.Column("population_filter", sa.JSON(), nullable=False),
        sa.Column("population_size", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(24), nullable=False),
        sa.Column("drawn_at", TZ, nullable=False),
        sa.Column("drawn_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
    )
    op.create_index("ix_sample_engagement_id", "sample", ["engagement_id"])
    op.create_table(
        "sample_item",
        sa.Column("sample_id", sa.Integer(), sa.ForeignKey("sample.id"), primary_key=True),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_sample_item_evidence_id", "sample_item", ["evidence_id"])


def downgrade() -> None:
    for table in ("sample_item", "sample", "evidence_request_item", "evidence_request"):
        op.drop_table(table)
