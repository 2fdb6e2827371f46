"""The queries of findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session, col

from audit_portal.findings.models import (
    FAILING_SEVERITIES,
    OPEN_STATUSES,
    Finding,
    FindingControl,
    FindingEvidence,
    FindingTransition,
)


def add(session: Session, finding: Finding) -> Finding:
    session.add(finding)
    session.flush()
    return finding


def get(session: Session, finding_id: int) -> Finding | None:
    return session.get(Finding, finding_id)


def replace_controls(session: Session, finding_id: int, control_ids: Iterable[int]) -> None:
    session.execute(delete(FindingControl).where(col(FindingControl.finding_id) == finding_id))
    session.add_all(FindingControl(finding_id=finding_id, control_id=cid) for cid in set(control_ids))
    session.flush()


def control_ids_of(session: Session, finding_ids: Iterable[int]) -> dict[int, list[int]]:
    """The controls and measures each finding is linked to, by finding id."""
    ids = set(finding_ids)
    result: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return result
    for row in session.scalars(select(FindingControl).where(col(FindingControl.finding_id).in_(ids))):
        result[row.finding_id].append(row.control_id)
    return result


def auditor_findings(
    session: Session, engagement_ids: Iterable[int] | None, control_id: int | None = None
) -> Sequence[Finding]:
    """Auditor findings of these engagements (all engagements when None)."""
    query = select(Finding).where(col(Finding.source) == "auditor")
    if engagement_ids is not None:
        query = query.where(col(Finding.engagement_id).in_(set(engagement_ids)))
    if control_id is not None:
        query = query.where(
            col(Finding.id).in_(
                select(col(FindingControl.finding_id)).where(col(FindingControl.control_id) == control_id)
            )
        )
    return session.scalars(query.order_by(col(Finding.created_at).desc(), col(Finding.id).desc())).all()


def serious_collector_findings(session: Session) -> Sequence[Finding]:
    """Open collector findings of high severity or above."""
    return session.scalars(
        select(Finding)
        .where(
            col(Finding.source) == "collector",
            col(Finding.status).in_(OPEN_STATUSES),
            col(Finding.severity).in_(FAILING_SEVERITIES),
        )
        .order_by(col(Finding.created_at).desc(), col(Finding.id).desc())
    ).all()


def all_findings(
    session: Session,
    *,
    source: str = "",
    status: str = "",
    severity: str = "",
    engagement_ids: Iterable[int] | None = None,
    limit: int = 500,
) -> Sequence[Finding]:
    """Findings for the global list. ``engagement_ids`` restricts auditor findings (collector
    findings are never restricted)."""
    query = select(Finding)
    if source:
        query = query.where(col(Finding.source) == source)
    if status:
        query = query.where(col(Finding.status) == status)
    if severity:
        query = query.where(col(Finding.severity) == severity)
    if engagement_ids is not None:
        query = query.where(or_(col(Finding.source) != "auditor", col(Finding.engagement_id).in_(set(engagement_ids))))
    return session.scalars(query.order_by(col(Finding.created_at).desc(), col(Finding.id).desc()).limit(limit)).all()


def add_transition(session: Session, transition: FindingTransition) -> FindingTransition:
    session.add(transition)
    session.flush()
    return transition


def transitions_of(session: Session, finding_ids: Iterable[int]) -> dict[int, list[FindingTransition]]:
    """Each finding's lifecycle, oldest step first."""
    ids = set(finding_ids)
    result: dict[int, list[FindingTransition]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.scalars(
        select(FindingTransition)
        .where(col(FindingTransition.finding_id).in_(ids))
        .order_by(col(FindingTransition.at), col(FindingTransition.id))
    )
    for transition in rows:
        result[transition.finding_id].append(transition)
    return result


def link_evidence(session: Session, finding_id: int, evidence_ids: Iterable[int]) -> None:
    already = set(remediation_evidence_ids(session, [finding_id]).get(finding_id, []))
    session.add_all(
        FindingEvidence(finding_id=finding_id, evidence_id=evidence_id)
        for evidence_id in sorted(set(evidence_ids) - already)
    )
    session.flush()


def remediation_evidence_ids(session: Session, finding_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = set(finding_ids)
    result: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(col(FindingEvidence.finding_id), col(FindingEvidence.evidence_id))
        .where(col(FindingEvidence.finding_id).in_(ids))
        .order_by(col(FindingEvidence.evidence_id))
    )
    for finding_id, evidence_id in rows:
        result[finding_id].append(evidence_id)
    return result


def collector_findings_seen_in(session: Session, collector_instance: str, run_id: int) -> Sequence[Finding]:
    """Collector findings the run saw: raised by that instance at or before the run and still
    seen by it (a finding's last run is the newest run that still reported it)."""
    return session.scalars(
        select(Finding)
        .where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance) == collector_instance,
            col(Finding.first_run_id) <= run_id,
            col(Finding.last_run_id) >= run_id,
        )
        .order_by(col(Finding.id))
    ).all()


def open_finding_links(
    session: Session, engagement_id: int, control_ids: Iterable[int] | None = None
) -> list[tuple[int, int]]:
    """(control id, finding id) of open findings linked to controls: this engagement's auditor
    findings and every collector finding."""
    query = (
        select(col(FindingControl.control_id), col(FindingControl.finding_id))
        .join(Finding, col(Finding.id) == col(FindingControl.finding_id))
        .where(
            col(Finding.status).in_(OPEN_STATUSES),
            or_(col(Finding.engagement_id) == engagement_id, col(Finding.source) == "collector"),
        )
    )
    if control_ids is not None:
        query = query.where(col(FindingControl.control_id).in_(set(control_ids)))
    return [(cid, fid) for cid, fid in session.execute(query)]


def unclosed_findings(session: Session, instance_name: str) -> Sequence[Finding]:
    return session.scalars(
        select(Finding).where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance) == instance_name,
            col(Finding.status) != "closed",
        )
    ).all()


def findings_of_run(session: Session, run_id: int, instance_name: str | None = None) -> Sequence[Finding]:
    """Findings this run saw. A finding is seen by every run of its instance from the run that
    opened it to the newest run that still saw it (a run that no longer sees it closes it, and a
    key seen again later opens a new finding), so a run saw exactly the findings of its instance
    whose [first_run_id, last_run_id] holds the run: including those later runs saw again and
    those closed since. Without ``instance_name``, only the findings this run was the last to see."""
    query = select(Finding).where(col(Finding.source) == "collector")
    if instance_name is None:
        query = query.where(col(Finding.last_run_id) == run_id)
    else:
        query = query.where(
            col(Finding.collector_instance) == instance_name,
            col(Finding.first_run_id) <= run_id,
            col(Finding.last_run_id) >= run_id,
        )
    return session.scalars(query.order_by(col(Finding.severity), col(Finding.key))).all()


def open_findings_counts(session: Session, instance_names: Iterable[str]) -> dict[str, int]:
    names = list(instance_names)
    if not names:
        return {}
    rows = session.execute(
        select(col(Finding.collector_instance), func.count())
        .where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance).in_(names),
            col(Finding.status).in_(OPEN_STATUSES),
        )
        .group_by(col(Finding.collector_instance))
    ).all()
    return {name: count for name, count in rows if name}


def link_finding_controls(session: Session, finding_id: int, control_ids: Iterable[int]) -> None:
    for control_id in sorted(set(control_ids)):
        session.add(FindingControl(finding_id=finding_id, control_id=control_id))
    session.flush()


def findings_closed_by(session: Session, instance_name: str, run_started_at: datetime) -> Sequence[Finding]:
    """Findings a run of the instance closed because it no longer saw them (closed at the run's start)."""
    return session.scalars(
        select(Finding).where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance) == instance_name,
            col(Finding.status) == "closed",
            col(Finding.closed_at) == run_started_at,
        )
    ).all()
