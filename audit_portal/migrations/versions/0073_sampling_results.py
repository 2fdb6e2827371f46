"""sampling: a sample's requirement, method, size rule and conclusion; each item's test result

Revision ID: 0073_sampling_results
Revises: 0071_performance
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0073_sampling_results"
down_revision = "0071_performance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sample") as batch:
        batch.add_column(sa.Column("requirement_id", sa.Integer(), nullable=True))
        # Samples drawn before this revision were random draws.
        batch.add_column(sa.Column("method", sa.String(16), nullable=False, server_default="random"))
        batch.add_column(sa.Column("size_rule", sa.Text(), nullable=True))
        batch.add_column(sa.Column("conclusion", sa.String(32), nullable=True))
        batch.add_column(sa.Column("conclusion_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("concluded_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_sample_requirement_id", "requirement", ["requirement_id"], ["id"])
        batch.create_foreign_key("fk_sample_concluded_by", "user_account", ["concluded_by"], ["id"])
    with op.batch_alter_table("sample_item") as batch:
        batch.add_column(sa.Column("result", sa.String(16), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tested_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tested_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("finding_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_sample_item_tested_by", "user_account", ["tested_by"], ["id"])
        batch.create_foreign_key("fk_sample_item_finding_id", "finding", ["finding_id"], ["id"])
        batch.create_index("ix_sample_item_finding_id", ["finding_id"])


def downgrade() -> None:
    with op.batch_alter_table("sample_item") as batch:
        batch.drop_index("ix_sample_item_finding_id")
        batch.drop_constraint("fk_sample_item_finding_id", type_="foreignkey")
        batch.drop_constraint("fk_sample_item_tested_by", type_="foreignkey")
        for column in ("finding_id", "tested_by", "tested_at", "note", "result"):
            batch.drop_column(column)
    with op.batch_alter_table("sample") as batch:
        batch.drop_constraint("fk_sample_concluded_by", type_="foreignkey")
        batch.drop_constraint("fk_sample_requirement_id", type_="foreignkey")
        for column in (
            "concluded_by",
            "concluded_at",
            "conclusion_note",
            "conclusion",
            "size_rule",
            "method",
            "requirement_id",
        ):
            batch.drop_column(column)
