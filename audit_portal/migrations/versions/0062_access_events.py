"""per-minute tallies of refused accesses, so a flood cannot fill the audit log

Revision ID: 0062_access_events
Revises: 0061_collector_sources
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0062_access_events"
down_revision = "0061_collector_sources"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "access_refusal_tally",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("minute", TZ, nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.UniqueConstraint("source", "reason", "minute", name="uq_access_refusal_tally"),
    )
    op.create_index("ix_access_refusal_tally_minute", "access_refusal_tally", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_access_refusal_tally_minute", table_name="access_refusal_tally")
    op.drop_table("access_refusal_tally")
