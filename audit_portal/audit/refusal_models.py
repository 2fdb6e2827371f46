"""How many refused accesses of one kind from one source were logged, and how many suppressed,
per minute: what keeps a flood of refusals from filling the audit log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AccessRefusalTally(SQLModel, table=True):
    __tablename__ = "access_refusal_tally"
    __table_args__ = (sa.UniqueConstraint("source", "reason", "minute", name="uq_access_refusal_tally"),)

    id: int = Field(default=None, primary_key=True)
    source: str = Field(max_length=120)  # the signed-in user, or the client address
    reason: str = Field(max_length=100)
    minute: datetime = Field(index=True)  # the start of the minute counted
    recorded: int = 0
    suppressed: int = 0
