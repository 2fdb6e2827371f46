"""catalogue: frameworks, groups, controls, mappings, requirements

Revision ID: 0010_catalogue
Revises: 0002_accounts_audit
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_catalogue"
down_revision = "0002_accounts_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "framework",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("scope_nl", sa.Text(), nullable=True),
        sa.Column("successor_framework", sa.String(64), nullable=True),
        sa.Column("source_name", sa.String(300), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "control_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("framework_key", sa.String(64), sa.ForeignKey("framework.key"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_nl", sa.String(300), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("framework_key", "key"),
    )
    op.create_table(
        "control",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("framework_key", sa.String(64), sa.ForeignKey("framework.key"), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("group_key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("title_nl", sa.String(500), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_nl", sa.Text(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("framework_key", "ref"),
    )
    op.create_index("ix_control_framework_key", "control", ["framework_key"])
    op.create_table(
        "control_mapping",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("control.id"), nullable=False),
        sa.Column("target_id", sa.Integer(), sa.ForeignKey("control.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.UniqueConstraint("source_id", "target_id", "kind"),
    )
    op.create_index("ix_control_mapping_source_id", "control_mapping", ["source_id"])
    op.create_index("ix_control_mapping_target_id", "control_mapping", ["target_id"])
    op.create_table(
        "requirement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(128), nullable=False, unique=True),
        sa.Column("control_id", sa.Integer(), sa.ForeignKey("control.id"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("evidence_kind", sa.String(32), nullable=False),
        sa.Column("collector", sa.String(64), nullable=False),
        sa.Column("frequency_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("needs_signoff", sa.Boolean(), nullable=False),
        sa.Column("tracks_expiry", sa.Boolean(), nullable=False),
        sa.Column("auditor_expects", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_requirement_control_id", "requirement", ["control_id"])
    op.create_index("ix_requirement_collector", "requirement", ["collector"])
    op.create_table(
        "catalogue_load",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("framework_key", sa.String(64), sa.ForeignKey("framework.key"), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("source_name", sa.String(300), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_index("ix_catalogue_load_framework_key", "catalogue_load", ["framework_key"])


def downgrade() -> None:
    op.drop_table("catalogue_load")
    op.drop_table("requirement")
    op.drop_table("control_mapping")
    op.drop_table("control")
    op.drop_table("control_group")
    op.drop_table("framework")
