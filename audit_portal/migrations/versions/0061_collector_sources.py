"""host-managed collector instances; passwords an administrator issued must be changed

Revision ID: 0061_collector_sources
Revises: 0050_trends_reports
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0061_collector_sources"
down_revision = "0050_trends_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing instances become web-managed: a run checks them against what the web may
    # choose, so one saved with a free command before this revision fails until an operator
    # imports it again on the host (docs/security.md).
    with op.batch_alter_table("collector_instance") as batch:
        batch.add_column(sa.Column("host_managed", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("password_must_change", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("password_must_change")
    with op.batch_alter_table("collector_instance") as batch:
        batch.drop_column("host_managed")
