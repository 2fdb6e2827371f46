"""sealed pushes: the nonce, content digest and manifest of each pushed run

Revision ID: 0067_collectors_part3
Revises: 0065_requirement_library
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0067_collectors_part3"
down_revision = "0065_requirement_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collector_run") as batch:
        batch.add_column(sa.Column("push_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("push_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("push_manifest", sa.Text(), nullable=True))
        # a push nonce is accepted once: the unique index is what refuses a replay
        batch.create_index("ix_collector_run_push_id", ["push_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("collector_run") as batch:
        batch.drop_index("ix_collector_run_push_id")
        batch.drop_column("push_manifest")
        batch.drop_column("push_digest")
        batch.drop_column("push_id")
