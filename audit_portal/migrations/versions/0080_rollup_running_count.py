"""coverage rollup: a running count per requirement over the cells not superseded, and each
engagement's rejected links per cell

Revision ID: 0080_rollup_running_count
Revises: 0079_corrupted_index
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0080_rollup_running_count"
down_revision = "0079_corrupted_index"
branch_labels = None
depends_on = None

SUPERSEDED = sa.text("superseded_on IS NOT NULL")
BATCH = 5_000


def upgrade() -> None:
    op.add_column("coverage_rollup", sa.Column("running_count", sa.Integer(), nullable=True))
    # One window over the cells not superseded, per requirement in day order (the same SQL on
    # PostgreSQL and on SQLite 3.33 or newer).
    op.execute(
        "UPDATE coverage_rollup SET running_count = running.total FROM ("
        " SELECT id, sum(evidence_count) OVER (PARTITION BY requirement_id ORDER BY collected_on) AS total"
        " FROM coverage_rollup WHERE superseded_on IS NULL"
        ") AS running WHERE running.id = coverage_rollup.id"
    )
    rejections = op.create_table(
        "coverage_rejection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("engagement_id", sa.Integer(), nullable=False),
        sa.Column("requirement_id", sa.Integer(), sa.ForeignKey("requirement.id"), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("superseded_on", sa.Date(), nullable=True),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("newest_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_coverage_rejection_engagement_collected_on", "coverage_rejection", ["engagement_id", "collected_on"]
    )
    op.create_index(
        "ix_coverage_rejection_collected_on_requirement", "coverage_rejection", ["collected_on", "requirement_id"]
    )
    _fill_rejections(rejections)
    op.create_index(
        "ix_coverage_rollup_superseded_on",
        "coverage_rollup",
        ["superseded_on", "collected_on"],
        postgresql_where=SUPERSEDED,
        sqlite_where=SUPERSEDED,
    )


def _fill_rejections(rejections: sa.Table) -> None:
    """The rejected links already there, grouped as audit_portal/coverage/rollup.py groups them
    at this revision (written here, not imported: the portal's code will have moved on). Only
    the reviews that rejected are read: they are few."""
    evidence = sa.table(
        "evidence",
        sa.column("id", sa.Integer()),
        sa.column("collected_at", sa.DateTime(timezone=True)),
        sa.column("superseded_at", sa.DateTime(timezone=True)),
        sa.column("integrity", sa.String()),
    )
    links = sa.table(
        "evidence_requirement", sa.column("evidence_id", sa.Integer()), sa.column("requirement_id", sa.Integer())
    )
    reviews = sa.table(
        "evidence_review",
        sa.column("engagement_id", sa.Integer()),
        sa.column("evidence_id", sa.Integer()),
        sa.column("status", sa.String()),
    )
    rows = op.get_bind().execute(
        sa.select(reviews.c.engagement_id, links.c.requirement_id, evidence.c.collected_at, evidence.c.superseded_at)
        .join(evidence, evidence.c.id == reviews.c.evidence_id)
        .join(links, links.c.evidence_id == evidence.c.id)
        .where(reviews.c.status == "rejected", evidence.c.integrity != "corrupted")
    )
    cells: dict[tuple, list] = {}
    for engagement_id, requirement_id, collected_at, superseded_at in rows:
        key = (engagement_id, requirement_id, _day(collected_at), _day(superseded_at) if superseded_at else None)
        cell = cells.setdefault(key, [0, collected_at])
        cell[0] += 1
        cell[1] = max(cell[1], collected_at)
    values = [
        {
            "engagement_id": engagement_id,
            "requirement_id": requirement_id,
            "collected_on": collected_on,
            "superseded_on": superseded_on,
            "evidence_count": count,
            "newest_at": newest,
        }
        for (engagement_id, requirement_id, collected_on, superseded_on), (count, newest) in cells.items()
    ]
    for first in range(0, len(values), BATCH):
        op.bulk_insert(rejections, values[first : first + BATCH])


def _day(moment: datetime) -> date:
    """The UTC day of a stored moment (SQLite hands back naive UTC, PostgreSQL aware values)."""
    return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()


def downgrade() -> None:
    op.drop_table("coverage_rejection")
    op.drop_index("ix_coverage_rollup_superseded_on", table_name="coverage_rollup")
    with op.batch_alter_table("coverage_rollup") as batch:
        batch.drop_column("running_count")
