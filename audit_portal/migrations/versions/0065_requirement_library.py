"""requirement library: clause kind on groups and controls, requirements switched off with a reason

Revision ID: 0065_requirement_library
Revises: 0064_pending_objects
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0065_requirement_library"
down_revision = "0064_pending_objects"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("control_group") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="controls"))
    with op.batch_alter_table("control") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="controls"))
        batch.create_index("ix_control_kind", ["kind"])
    op.create_table(
        "requirement_switch_off",
        sa.Column("requirement_id", sa.Integer(), sa.ForeignKey("requirement.id"), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("switched_off_by", sa.String(100), nullable=False),
        sa.Column("switched_off_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("requirement_switch_off")
    with op.batch_alter_table("control") as batch:
        batch.drop_index("ix_control_kind")
        batch.drop_column("kind")
    with op.batch_alter_table("control_group") as batch:
        batch.drop_column("kind")
