"""Evidence requests ("provided by client" list): the auditor asks, IT answers with evidence."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

STATE_OPEN = "open"
STATE_ANSWERED = "answered"
STATE_ACCEPTED = "accepted"
STATE_CLOSED = "closed"
STATES = (STATE_OPEN, STATE_ANSWERED, STATE_ACCEPTED, STATE_CLOSED)
PENDING_STATES = (STATE_OPEN, STATE_ANSWERED)  # still waiting for someone


class EvidenceRequest(SQLModel, table=True):
    __tablename__ = "evidence_request"

    id: int = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    # Exactly one of the two: the question is about a control (or measure) or one requirement.
    control_id: int | None = Field(default=None, foreign_key="control.id", index=True)
    requirement_id: int | None = Field(default=None, foreign_key="requirement.id", index=True)
    question: str = Field(sa_type=sa.Text)
    due_date: date
    state: str = Field(default=STATE_OPEN, max_length=16, index=True)
    created_by: int = Field(foreign_key="user_account.id")
    created_at: datetime
    answered_by: int | None = Field(default=None, foreign_key="user_account.id")
    answered_at: datetime | None = None
    answer_note: str | None = Field(default=None, sa_type=sa.Text)


class EvidenceRequestItem(SQLModel, table=True):
    """Evidence given in answer to a request."""

    __tablename__ = "evidence_request_item"

    request_id: int = Field(foreign_key="evidence_request.id", primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, index=True)
    linked_at: datetime
