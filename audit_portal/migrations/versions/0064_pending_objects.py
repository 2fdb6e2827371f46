"""pending objects of uploads in flight; evidence integrity status and submitted file name

Revision ID: 0064_pending_objects
Revises: 0063_audit_mac
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0064_pending_objects"
down_revision = "0063_audit_mac"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_object",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("store_key", sa.String(255), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_pending_object_store_key", "pending_object", ["store_key"])
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("submitted_filename", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("integrity", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("integrity_checked_at", TZ, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("integrity_checked_at")
        batch.drop_column("integrity")
        batch.drop_column("submitted_filename")
    op.drop_index("ix_pending_object_store_key", table_name="pending_object")
    op.drop_table("pending_object")
