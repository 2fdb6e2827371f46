"""The queries of findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, or_, select
from sqlmodel import Session, col

from audit_portal.catalogue.models import MAPS_TO, Control, ControlMapping, Requirement
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.models import Evidence, EvidenceRequirement
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


def controls_of(session: Session, finding_ids: Iterable[int]) -> dict[int, list[Control]]:
    ids = set(finding_ids)
    result: dict[int, list[Control]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(col(FindingControl.finding_id), Control)
        .join(Control, col(Control.id) == col(FindingControl.control_id))
        .where(col(FindingControl.finding_id).in_(ids))
        # ISO controls before Annex 2 measures ("iso27001-*" sorts after "annex2").
        .order_by(col(Control.framework_key).desc(), col(Control.position))
    )
    for finding_id, control in rows:
        result[finding_id].append(control)
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


def evidence_requirement_controls(session: Session, findings: Sequence[Finding]) -> list[tuple[int, Control]]:
    """(finding id, control or measure) reached through the evidence a finding was raised on: its
    evidence item, or every item of the run that last saw it."""
    by_evidence = {f.evidence_id: f.id for f in findings if f.evidence_id is not None}
    by_run: dict[int, list[int]] = {}
    for f in findings:
        if f.evidence_id is None and f.last_run_id is not None:
            by_run.setdefault(f.last_run_id, []).append(f.id)
    if not by_evidence and not by_run:
        return []
    rows = session.execute(
        select(col(Evidence.id), col(Evidence.collector_run_id), Control)
        .join(EvidenceRequirement, col(EvidenceRequirement.evidence_id) == col(Evidence.id))
        .join(Requirement, col(Requirement.id) == col(EvidenceRequirement.requirement_id))
        .join(Control, col(Control.id) == col(Requirement.control_id))
        .where(or_(col(Evidence.id).in_(set(by_evidence)), col(Evidence.collector_run_id).in_(set(by_run))))
    )
    result: list[tuple[int, Control]] = []
    for evidence_id, run_id, control in rows:
        if evidence_id in by_evidence:
            result.append((by_evidence[evidence_id], control))
        for finding_id in by_run.get(run_id, []):
            result.append((finding_id, control))
    return result


def mapped_targets(session: Session, source_ids: Iterable[int], framework_key: str) -> dict[int, list[Control]]:
    ids = set(source_ids)
    result: dict[int, list[Control]] = {}
    if not ids:
        return result
    rows = session.execute(
        select(col(ControlMapping.source_id), Control)
        .join(Control, col(Control.id) == col(ControlMapping.target_id))
        .where(
            col(ControlMapping.source_id).in_(ids),
            col(ControlMapping.kind) == MAPS_TO,
            col(Control.framework_key) == framework_key,
        )
        .order_by(col(Control.position))
    )
    for source_id, control in rows:
        result.setdefault(source_id, []).append(control)
    return result


def engagements_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Engagement]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {e.id: e for e in session.scalars(select(Engagement).where(col(Engagement.id).in_(wanted)))}


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
