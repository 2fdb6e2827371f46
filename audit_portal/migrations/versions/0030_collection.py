"""collector instances, runs and job leases

Revision ID: 0030_collection
Revises: 0020_evidence_reviews
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030_collection"
down_revision = "0020_evidence_reviews"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "collector_instance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("collector", sa.String(64), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("requirement_keys", sa.Text(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_collector_instance_collector", "collector_instance", ["collector"])
    op.create_table(
        "collector_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("collector_instance.id"), nullable=False),
        sa.Column("instance_name", sa.String(100), nullable=False),
        sa.Column("collector_version", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_retry_at", TZ, nullable=True),
        sa.Column("findings_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_collector_run_instance_started", "collector_run", ["instance_id", "started_at"])
    op.create_index("ix_collector_run_status", "collector_run", ["status"])
    op.create_table(
        "job_lease",
        sa.Column("job_name", sa.String(150), primary_key=True),
        sa.Column("holder", sa.String(150), nullable=False),
        sa.Column("acquired_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_lease")
    op.drop_index("ix_collector_run_status", table_name="collector_run")
    op.drop_index("ix_collector_run_instance_started", table_name="collector_run")
    op.drop_table("collector_run")
    op.drop_index("ix_collector_instance_collector", table_name="collector_instance")
    op.drop_table("collector_instance")
