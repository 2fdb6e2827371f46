"""Samples an auditor draws from a requirement's occurrences, kept with the engagement, and the
result of testing each sampled occurrence.

The population is described (human text) and defined (``population_filter`` JSON: the
requirement and the period); each item is one occurrence, named by its newest evidence item
(the anchor the occurrence pages use). A random sample is drawn with
``random.Random(seed).sample`` over the anchors in ascending order, so the same seed and
population give the same sample; a judgemental sample records the occurrences the auditor chose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

METHOD_RANDOM = "random"
METHOD_JUDGEMENTAL = "judgemental"
METHODS = (METHOD_RANDOM, METHOD_JUDGEMENTAL)

RESULT_EFFECTIVE = "effective"
RESULT_EXCEPTION = "exception"
RESULT_NOT_TESTED = "not_tested"
RESULTS = (RESULT_EFFECTIVE, RESULT_EXCEPTION, RESULT_NOT_TESTED)

CONCLUSION_EFFECTIVE = "effective"
CONCLUSION_WITH_EXCEPTIONS = "effective_with_exceptions"
CONCLUSION_NOT_EFFECTIVE = "not_effective"
CONCLUSIONS = (CONCLUSION_EFFECTIVE, CONCLUSION_WITH_EXCEPTIONS, CONCLUSION_NOT_EFFECTIVE)


class Sample(SQLModel, table=True):
    __tablename__ = "sample"

    id: int = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    # None only for samples drawn before populations were a requirement's occurrences.
    requirement_id: int | None = Field(default=None, foreign_key="requirement.id")
    population_description: str = Field(sa_type=sa.Text)
    population_filter: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    population_size: int
    size: int
    method: str = Field(default=METHOD_RANDOM, max_length=16)
    # Seeds are 64-bit unsigned; kept as text so both backends hold every value exactly.
    # Empty for a judgemental sample.
    seed: str = Field(max_length=24)
    # The size rule applied, e.g. "weekly (frequency 7 days): 5 to 15; population 52".
    size_rule: str | None = Field(default=None, sa_type=sa.Text)
    drawn_at: datetime
    drawn_by: int = Field(foreign_key="user_account.id")
    conclusion: str | None = Field(default=None, max_length=32)
    conclusion_note: str | None = Field(default=None, sa_type=sa.Text)
    concluded_at: datetime | None = None
    concluded_by: int | None = Field(default=None, foreign_key="user_account.id")


class SampleItem(SQLModel, table=True):
    __tablename__ = "sample_item"

    sample_id: int = Field(foreign_key="sample.id", primary_key=True)
    # The occurrence's newest evidence item (older samples: the evidence item drawn).
    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, index=True)
    position: int
    result: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, sa_type=sa.Text)
    tested_at: datetime | None = None
    tested_by: int | None = Field(default=None, foreign_key="user_account.id")
    # The finding an exception raised.
    finding_id: int | None = Field(default=None, foreign_key="finding.id", index=True)
