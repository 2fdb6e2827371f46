"""Engagements (one audit each), their auditors and scope, and evidence reviews per engagement."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

REVIEW_PENDING = "pending"  # no review row
REVIEW_ACCEPTED = "accepted"
REVIEW_REJECTED = "rejected"


class Engagement(SQLModel, table=True):
    __tablename__ = "engagement"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    framework_key: str = Field(foreign_key="framework.key", max_length=64)  # iso27001-2022 | iso27001-2013
    period_start: date
    period_end: date
    scope_note: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime
    created_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = None


class EngagementAuditor(SQLModel, table=True):
    __tablename__ = "engagement_auditor"

    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True)


class EngagementScope(SQLModel, table=True):
    """Controls in scope when the engagement narrows it; no rows means the SoA's applicable ones."""

    __tablename__ = "engagement_scope"

    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    control_id: int = Field(foreign_key="control.id", primary_key=True)


class EvidenceReview(SQLModel, table=True):
    """The current review of one evidence item in one engagement (history is in the audit log)."""

    __tablename__ = "evidence_review"

    engagement_id: int = Field(foreign_key="engagement.id", primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, index=True)
    status: str = Field(max_length=16)
    comment: str | None = Field(default=None, sa_type=sa.Text)
    reviewer_id: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_at: datetime
