"""The coverage rollup: what coverage needs of the evidence, kept small enough to read whole."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CoverageRollup(SQLModel, table=True):
    """One cell: the links of one requirement to evidence collected on one UTC day and superseded
    on one UTC day (or not superseded). A period [start, T] counts the cells collected in it and
    not superseded by the end of T, which is exactly the per-item rule, because both period
    bounds are whole UTC days. Facts only: the status is worked out when coverage is read.

    A cell of links not superseded also carries ``running_count``: the links not superseded of
    its requirement collected on its day or before. The count of a period is then the difference
    of two running counts (the last cell on or before T, the last one before the start), so a
    framework's coverage reads two cells per requirement, however long the period, plus the
    cells of links superseded after T (none for today: supersession has happened by now)."""

    __tablename__ = "coverage_rollup"
    __table_args__ = (
        sa.Index("ix_coverage_rollup_collected_on_requirement", "collected_on", "requirement_id"),
        sa.Index("ix_coverage_rollup_requirement_collected_on", "requirement_id", "collected_on"),
        sa.Index(
            "ix_coverage_rollup_superseded_on",
            "superseded_on",
            "collected_on",
            postgresql_where=sa.text("superseded_on IS NOT NULL"),
            sqlite_where=sa.text("superseded_on IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(foreign_key="requirement.id")
    collected_on: date
    superseded_on: date | None = None
    evidence_count: int
    newest_at: datetime  # the latest collected_at among the cell's links
    running_count: int | None = None  # cells not superseded only: see above


class CoverageRejection(SQLModel, table=True):
    """One engagement's rejected links in one cell of the rollup: the links of one requirement
    to evidence collected on one UTC day and superseded on one UTC day (or not), that the
    engagement rejected. An engagement's coverage takes these off the rollup's counts: a range of
    this table's days, instead of looking up every rejected item and its links."""

    __tablename__ = "coverage_rejection"
    __table_args__ = (
        sa.Index("ix_coverage_rejection_engagement_collected_on", "engagement_id", "collected_on"),
        sa.Index("ix_coverage_rejection_collected_on_requirement", "collected_on", "requirement_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int  # no foreign key: derived rows, rebuilt from the reviews, never a reference
    requirement_id: int = Field(foreign_key="requirement.id")
    collected_on: date
    superseded_on: date | None = None
    evidence_count: int
    newest_at: datetime
