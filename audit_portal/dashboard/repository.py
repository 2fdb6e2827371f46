"""The queries behind the dashboard besides coverage itself: findings, certificates, groups,
collectors and evidence requests. Each is one statement whatever the size of the data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from audit_portal.catalogue.models import KIND_CONTROL, ControlGroup
from audit_portal.collection.models import UNSUCCESSFUL, CollectorInstance, CollectorRun
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.models import Evidence
from audit_portal.findings.models import OPEN_STATUSES, Finding
from audit_portal.requests.models import PENDING_STATES, EvidenceRequest


def engagement(session: Session, engagement_id: int) -> Engagement | None:
    return session.get(Engagement, engagement_id)


def groups(session: Session, framework_key: str, kind: str = KIND_CONTROL) -> list[ControlGroup]:
    return list(
        session.scalars(
            select(ControlGroup)
            .where(col(ControlGroup.framework_key) == framework_key, col(ControlGroup.kind) == kind)
            .order_by(col(ControlGroup.position))
        )
    )


def open_finding_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(col(Finding.severity), func.count())
        .where(col(Finding.status).in_(OPEN_STATUSES))
        .group_by(col(Finding.severity))
    )
    return {severity: count for severity, count in rows}


def overdue_action_count(session: Session, today: date) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Finding)
            .where(col(Finding.status).in_(OPEN_STATUSES), col(Finding.due_date) < today)
        )
        or 0
    )


def open_findings(
    session: Session, *, severity: str | None = None, overdue_on: date | None = None
) -> Sequence[Finding]:
    query = select(Finding).where(col(Finding.status).in_(OPEN_STATUSES))
    if severity is not None:
        query = query.where(col(Finding.severity) == severity)
    if overdue_on is not None:
        query = query.where(col(Finding.due_date) < overdue_on)
    return session.scalars(
        query.order_by(col(Finding.due_date).is_(None), col(Finding.due_date), col(Finding.id))
    ).all()


def findings_raised_since(session: Session, since: datetime) -> Sequence[Finding]:
    return session.scalars(
        select(Finding)
        .where(col(Finding.created_at) >= since, col(Finding.status).in_(OPEN_STATUSES))
        .order_by(col(Finding.id))
    ).all()


def evidence_valid_until_between(session: Session, first: date, last: date) -> Sequence[Evidence]:
    """Certificates and other proofs that lapse in [first, last], newest record of a chain only."""
    return session.scalars(
        select(Evidence)
        .where(
            col(Evidence.valid_until) >= first, col(Evidence.valid_until) <= last, col(Evidence.superseded_at).is_(None)
        )
        .order_by(col(Evidence.valid_until), col(Evidence.id))
    ).all()


# --- collectors ----------------------------------------------------------------------------


def collector_instances(session: Session) -> Sequence[CollectorInstance]:
    return session.scalars(select(CollectorInstance).order_by(col(CollectorInstance.name))).all()


def last_runs(session: Session) -> dict[int, CollectorRun]:
    """The newest run of every instance, by instance id."""
    newest = (
        select(col(CollectorRun.instance_id), func.max(col(CollectorRun.id)).label("run_id"))
        .group_by(col(CollectorRun.instance_id))
        .subquery()
    )
    runs = session.scalars(select(CollectorRun).join(newest, newest.c.run_id == col(CollectorRun.id)))
    return {run.instance_id: run for run in runs}


def runs_started_between(session: Session, start: datetime, end: datetime) -> Sequence[CollectorRun]:
    return session.scalars(
        select(CollectorRun).where(col(CollectorRun.started_at) >= start, col(CollectorRun.started_at) < end)
    ).all()


def failed_runs_since(session: Session, since: datetime) -> Sequence[CollectorRun]:
    return session.scalars(
        select(CollectorRun)
        .where(col(CollectorRun.started_at) >= since, col(CollectorRun.status).in_(UNSUCCESSFUL))
        .order_by(col(CollectorRun.started_at).desc(), col(CollectorRun.id).desc())
    ).all()


# --- evidence requests ----------------------------------------------------------------------


def pending_requests(
    session: Session,
    *,
    overdue_on: date | None = None,
    engagement_id: int | None = None,
    states: tuple[str, ...] = PENDING_STATES,
) -> Sequence[EvidenceRequest]:
    """Requests still waiting for someone (by default open or answered), optionally only those past due."""
    query = select(EvidenceRequest).where(col(EvidenceRequest.state).in_(states))
    if overdue_on is not None:
        query = query.where(col(EvidenceRequest.due_date) < overdue_on)
    if engagement_id is not None:
        query = query.where(col(EvidenceRequest.engagement_id) == engagement_id)
    return session.scalars(query.order_by(col(EvidenceRequest.due_date), col(EvidenceRequest.id))).all()


def requests_created_since(session: Session, since: datetime) -> Sequence[EvidenceRequest]:
    return session.scalars(
        select(EvidenceRequest)
        .where(col(EvidenceRequest.created_at) >= since, col(EvidenceRequest.state).in_(PENDING_STATES))
        .order_by(col(EvidenceRequest.id))
    ).all()
