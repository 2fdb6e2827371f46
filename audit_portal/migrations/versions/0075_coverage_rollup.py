"""coverage rollup: per requirement, day of collection and day of supersession, the links that count

Revision ID: 0075_coverage_rollup
Revises: 0071_performance
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0075_coverage_rollup"
down_revision = "0074_rule_decisions"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    rollup = op.create_table(
        "coverage_rollup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("requirement_id", sa.Integer(), sa.ForeignKey("requirement.id"), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("superseded_on", sa.Date(), nullable=True),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("newest_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_coverage_rollup_collected_on_requirement", "coverage_rollup", ["collected_on", "requirement_id"]
    )
    op.create_index(
        "ix_coverage_rollup_requirement_collected_on", "coverage_rollup", ["requirement_id", "collected_on"]
    )
    _fill(rollup)


def _fill(rollup: sa.Table) -> None:
    """The rollup of the evidence already there, written here (not by importing the portal's code,
    which will have moved on) with the rule of audit_portal/coverage/rollup.py at this revision."""
    evidence = sa.table(
        "evidence",
        sa.column("id", sa.Integer()),
        sa.column("collected_at", sa.DateTime(timezone=True)),
        sa.column("superseded_at", sa.DateTime(timezone=True)),
    )
    links = sa.table(
        "evidence_requirement", sa.column("evidence_id", sa.Integer()), sa.column("requirement_id", sa.Integer())
    )
    cells: dict[tuple, list] = {}
    rows = op.get_bind().execute(
        sa.select(links.c.requirement_id, evidence.c.collected_at, evidence.c.superseded_at).join(
            evidence, evidence.c.id == links.c.evidence_id
        )
    )
    for requirement_id, collected_at, superseded_at in rows:
        key = (requirement_id, _day(collected_at), _day(superseded_at) if superseded_at else None)
        cell = cells.setdefault(key, [0, collected_at])
        cell[0] += 1
        cell[1] = max(cell[1], collected_at)
    values = [
        {
            "requirement_id": rid,
            "collected_on": collected_on,
            "superseded_on": superseded_on,
            "evidence_count": count,
            "newest_at": newest,
        }
        for (rid, collected_on, superseded_on), (count, newest) in cells.items()
    ]
    for first in range(0, len(values), BATCH):
        op.bulk_insert(rollup, values[first : first + BATCH])


def _day(moment):
    """The UTC day of a stored moment (SQLite hands back naive UTC, PostgreSQL aware values)."""
    from datetime import UTC

    return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()


def downgrade() -> None:
    op.drop_table("coverage_rollup")
