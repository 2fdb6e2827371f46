"""performance: index on evidence.valid_until, evidence facet values in a small table

Revision ID: 0071_performance
Revises: 0069_finding_lifecycle
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0071_performance"
down_revision = "0069_finding_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_evidence_valid_until", "evidence", ["valid_until"])
    op.create_table(
        "evidence_facet",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
    )
    # The values the evidence list offers as filters, taken once from what is there; from now on
    # every new item adds its own (evidence.repository.add_evidence).
    op.execute("INSERT INTO evidence_facet (kind, value) SELECT DISTINCT 'content_type', content_type FROM evidence")
    op.execute(
        "INSERT INTO evidence_facet (kind, value) SELECT DISTINCT 'collector_instance', collector_instance "
        "FROM evidence WHERE collector_instance IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("evidence_facet")
    op.drop_index("ix_evidence_valid_until", table_name="evidence")
