"""Findings: problems a collector saw or an auditor recorded, with their corrective action."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SEVERITIES = ("info", "low", "medium", "high", "critical")
FAILING_SEVERITIES = ("high", "critical")  # an open one on the newest evidence makes it failing
AUDITOR_CATEGORIES = ("major_nc", "minor_nc", "observation", "ofi")
# The lifecycle of a finding: open -> action planned (owner, due date, root cause, the action)
# -> remediated (with the evidence that shows it) -> closed once an auditor of the engagement has
# verified it. Collector findings go from open to closed by themselves when a run no longer sees
# them. A finding is open until it is closed or its risk accepted.
STATUSES = ("open", "action_planned", "remediated", "closed", "risk_accepted")
OPEN_STATUSES = ("open", "action_planned", "remediated")


class Finding(SQLModel, table=True):
    __tablename__ = "finding"

    id: int = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)  # collector | auditor
    key: str | None = Field(default=None, max_length=300, index=True)  # a collector's stable key
    title: str = Field(max_length=300)
    detail: str | None = Field(default=None, sa_type=sa.Text)
    severity: str = Field(max_length=16)
    category: str | None = Field(default=None, max_length=16)  # auditor findings: AUDITOR_CATEGORIES
    status: str = Field(default="open", max_length=16, index=True)
    collector_instance: str | None = Field(default=None, max_length=100, index=True)
    first_run_id: int | None = None
    last_run_id: int | None = Field(default=None, index=True)  # the newest run that still saw it
    evidence_id: int | None = Field(default=None, foreign_key="evidence.id", index=True)
    engagement_id: int | None = Field(default=None, foreign_key="engagement.id", index=True)
    owner: str | None = Field(default=None, max_length=100)
    corrective_action: str | None = Field(default=None, sa_type=sa.Text)
    root_cause: str | None = Field(default=None, sa_type=sa.Text)
    due_date: date | None = None
    created_at: datetime
    created_by: str | None = Field(default=None, max_length=100)
    closed_at: datetime | None = None


class FindingControl(SQLModel, table=True):
    __tablename__ = "finding_control"

    finding_id: int = Field(foreign_key="finding.id", primary_key=True)
    control_id: int = Field(foreign_key="control.id", primary_key=True, index=True)


class FindingTransition(SQLModel, table=True):
    """One step of a finding's lifecycle, kept for ever: who moved it, when, from and to which
    status, and why."""

    __tablename__ = "finding_transition"

    id: int = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id", index=True)
    at: datetime
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    note: str | None = Field(default=None, sa_type=sa.Text)


class FindingEvidence(SQLModel, table=True):
    """Evidence that shows a finding was remediated."""

    __tablename__ = "finding_evidence"

    finding_id: int = Field(foreign_key="finding.id", primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, index=True)
