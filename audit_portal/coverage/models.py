"""The coverage rollup: what coverage needs of the evidence, kept small enough to read whole."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CoverageRollup(SQLModel, table=True):
    """One cell: the links of one requirement to evidence collected on one UTC day and superseded
    on one UTC day (or not superseded). A period [start, T] counts the cells collected in it and
    not superseded by the end of T, which is exactly the per-item rule, because both period
    bounds are whole UTC days. Facts only: the status is worked out when coverage is read."""

    __tablename__ = "coverage_rollup"
    __table_args__ = (
        sa.Index("ix_coverage_rollup_collected_on_requirement", "collected_on", "requirement_id"),
        sa.Index("ix_coverage_rollup_requirement_collected_on", "requirement_id", "collected_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(foreign_key="requirement.id")
    collected_on: date
    superseded_on: date | None = None
    evidence_count: int
    newest_at: datetime  # the latest collected_at among the cell's links
