"""One generated monthly compliance report: its month and the two evidence items holding it."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class ComplianceReport(SQLModel, table=True):
    __tablename__ = "compliance_report"
    __table_args__ = (sa.Index("ix_compliance_report_month", "month"),)

    id: int = Field(default=None, primary_key=True)
    month: date  # the first day of the month reported on
    generated_at: datetime
    generated_by: str = Field(max_length=100)  # a user name, or a system actor: "system:scheduler", "system:cli"
    pdf_evidence_id: int = Field(foreign_key="evidence.id")
    xlsx_evidence_id: int = Field(foreign_key="evidence.id")
