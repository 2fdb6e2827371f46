"""Queries of generated reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from audit_portal.reports.models import ComplianceReport


def add(session: Session, report: ComplianceReport) -> ComplianceReport:
    session.add(report)
    session.flush()
    return report


def newest_first(session: Session, limit: int = 60) -> Sequence[ComplianceReport]:
    return session.scalars(
        select(ComplianceReport)
        .order_by(col(ComplianceReport.generated_at).desc(), col(ComplianceReport.id).desc())
        .limit(limit)
    ).all()


def get(session: Session, report_id: int) -> ComplianceReport | None:
    return session.get(ComplianceReport, report_id)


def exists_for_month(session: Session, month: date) -> bool:
    return (
        session.scalars(select(col(ComplianceReport.id)).where(col(ComplianceReport.month) == month).limit(1)).first()
        is not None
    )
