"""Statement of Applicability: per 2022 control, applicable or not, why, and how far implemented."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

STATUSES = ("not_started", "partial", "implemented")


class SoaEntry(SQLModel, table=True):
    __tablename__ = "soa_entry"

    control_id: int = Field(foreign_key="control.id", primary_key=True)
    applicable: bool
    justification: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default="not_started", max_length=16)
    owner: str | None = Field(default=None, max_length=100)
    updated_at: datetime
    updated_by: str | None = Field(default=None, max_length=100)
