"""A coverage snapshot: what coverage was on one day, per framework and per group."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

OVERALL = ""  # stored as NULL: the snapshot of the whole framework


class CoverageSnapshot(SQLModel, table=True):
    __tablename__ = "coverage_snapshot"
    # NULL group keys are distinct in a UNIQUE constraint on both backends, so the overall row of
    # a day is kept unique by the service (it deletes the day before writing it again).
    __table_args__ = (sa.Index("ix_coverage_snapshot_day_framework", "day", "framework_key"),)

    id: int = Field(default=None, primary_key=True)
    day: date
    framework_key: str = Field(max_length=64)
    group_key: str | None = Field(default=None, max_length=64)  # NULL for the whole framework
    covered: int
    applicable: int
    percent: float
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    taken_at: datetime
