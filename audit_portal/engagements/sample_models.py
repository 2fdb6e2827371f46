"""Samples an auditor draws from a population of evidence, kept with the engagement.

The population is described (human text) and defined (``population_filter`` JSON: requirement or
control, period, source); the items are drawn with ``random.Random(seed).sample`` over the
population ordered by evidence id, so the same seed and population give the same sample.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class Sample(SQLModel, table=True):
    __tablename__ = "sample"

    id: int = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    population_description: str = Field(sa_type=sa.Text)
    population_filter: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    population_size: int
    size: int
    # Seeds are 64-bit unsigned; kept as text so both backends hold every value exactly.
    seed: str = Field(max_length=24)
    drawn_at: datetime
    drawn_by: int = Field(foreign_key="user_account.id")


class SampleItem(SQLModel, table=True):
    __tablename__ = "sample_item"

    sample_id: int = Field(foreign_key="sample.id", primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, index=True)
    position: int
