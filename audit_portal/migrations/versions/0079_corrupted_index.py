"""performance: a partial index on the corrupted evidence (the dashboard counts it on every view)

Revision ID: 0079_corrupted_index
Revises: 0078_personal_settings
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0079_corrupted_index"
down_revision = "0078_personal_settings"
branch_labels = None
depends_on = None

CORRUPTED = sa.text("integrity = 'corrupted'")


def upgrade() -> None:
    op.create_index("ix_evidence_corrupted", "evidence", ["id"], postgresql_where=CORRUPTED, sqlite_where=CORRUPTED)


def downgrade() -> None:
    op.drop_index("ix_evidence_corrupted", table_name="evidence")
