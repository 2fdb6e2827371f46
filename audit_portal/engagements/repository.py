"""The queries of engagements: the engagements themselves, their auditors and scope, reviews,
the evidence history of requirements, and the per-control counts the workspace shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session, col

from audit_portal.auth.models import UserAccount
from audit_portal.catalogue.models import MAPS_TO, SUCCESSOR, Control, ControlMapping, Requirement
from audit_portal.engagements.models import (
    Engagement,
    EngagementAuditor,
    EngagementScope,
    EvidenceReview,
)
from audit_portal.engagements.sample_models import Sample, SampleItem
from audit_portal.evidence.models import Evidence, EvidenceControl, EvidenceRequirement
from audit_portal.findings.models import OPEN_STATUSES, Finding, FindingControl
from audit_portal.requests.models import PENDING_STATES, EvidenceRequest
from audit_portal.soa.models import SoaEntry

# --- engagements ------------------------------------------------------------------------------


def get(session: Session, engagement_id: int) -> Engagement | None:
    return session.get(Engagement, engagement_id)


def list_all(session: Session) -> Sequence[Engagement]:
    return session.scalars(
        select(Engagement).order_by(col(Engagement.period_end).desc(), col(Engagement.id).desc())
    ).all()


def list_for_auditor(session: Session, user_id: int) -> Sequence[Engagement]:
    return session.scalars(
        select(Engagement)
        .join(EngagementAuditor, col(EngagementAuditor.engagement_id) == col(Engagement.id))
        .where(col(EngagementAuditor.user_id) == user_id)
        .order_by(col(Engagement.period_end).desc(), col(Engagement.id).desc())
    ).all()


def is_assigned(session: Session, engagement_id: int, user_id: int) -> bool:
    return session.get(EngagementAuditor, (engagement_id, user_id)) is not None


def get_user(session: Session, user_id: int) -> UserAccount | None:
    return session.get(UserAccount, user_id)


def add(session: Session, engagement: Engagement) -> Engagement:
    session.add(engagement)
    session.flush()
    return engagement


def auditors_of(session: Session, engagement_ids: Iterable[int]) -> dict[int, list[UserAccount]]:
    ids = set(engagement_ids)
    result: dict[int, list[UserAccount]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(col(EngagementAuditor.engagement_id), UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(EngagementAuditor.user_id))
        .where(col(EngagementAuditor.engagement_id).in_(ids))
        .order_by(col(UserAccount.username))
    )
    for engagement_id, user in rows:
        result[engagement_id].append(user)
    return result


def replace_auditors(session: Session, engagement_id: int, user_ids: Iterable[int]) -> None:
    session.execute(delete(EngagementAuditor).where(col(EngagementAuditor.engagement_id) == engagement_id))
    session.add_all(EngagementAuditor(engagement_id=engagement_id, user_id=uid) for uid in set(user_ids))
    session.flush()


def auditor_accounts(session: Session) -> Sequence[UserAccount]:
    return session.scalars(
        select(UserAccount)
        .where(col(UserAccount.role) == "auditor", col(UserAccount.revoked_at).is_(None))
        .order_by(col(UserAccount.username))
    ).all()


def users_by_ids(session: Session, ids: Iterable[int]) -> dict[int, UserAccount]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(UserAccount).where(col(UserAccount.id).in_(wanted)))}


def scope_control_ids(session: Session, engagement_id: int) -> set[int]:
    return set(
        session.scalars(
            select(col(EngagementScope.control_id)).where(col(EngagementScope.engagement_id) == engagement_id)
        )
    )


def scope_sizes(session: Session, engagement_ids: Iterable[int]) -> dict[int, int]:
    ids = set(engagement_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(col(EngagementScope.engagement_id), func.count())
        .where(col(EngagementScope.engagement_id).in_(ids))
        .group_by(col(EngagementScope.engagement_id))
    )
    return {engagement_id: count for engagement_id, count in rows}


def replace_scope(session: Session, engagement_id: int, control_ids: Iterable[int]) -> None:
    session.execute(delete(EngagementScope).where(col(EngagementScope.engagement_id) == engagement_id))
    session.add_all(EngagementScope(engagement_id=engagement_id, control_id=cid) for cid in set(control_ids))
    session.flush()


# --- catalogue lookups the workspace needs ---------------------------------------------------


def control_by_ref(session: Session, framework_keys: Sequence[str], ref: str) -> Control | None:
    """The live control with ``ref`` in the first of ``framework_keys`` that has one."""
    rows = session.scalars(
        select(Control).where(
            col(Control.framework_key).in_(framework_keys),
            col(Control.ref) == ref,
            col(Control.retired_at).is_(None),
        )
    ).all()
    for key in framework_keys:
        for control in rows:
            if control.framework_key == key:
                return control
    return None


def mapped_controls(session: Session, control_id: int) -> tuple[list[Control], list[Control]]:
    """(measures and controls mapped onto this one, controls this one maps to), live only."""
    onto = (
        session.execute(
            select(Control)
            .join(ControlMapping, col(ControlMapping.source_id) == col(Control.id))
            .where(
                col(ControlMapping.target_id) == control_id,
                col(ControlMapping.kind) == MAPS_TO,
                col(Control.retired_at).is_(None),
            )
            .order_by(col(Control.framework_key), col(Control.position))
        )
        .scalars()
        .all()
    )
    to = (
        session.execute(
            select(Control)
            .join(ControlMapping, col(ControlMapping.target_id) == col(Control.id))
            .where(
                col(ControlMapping.source_id) == control_id,
                col(ControlMapping.kind) == MAPS_TO,
                col(Control.retired_at).is_(None),
            )
            .order_by(col(Control.framework_key), col(Control.position))
        )
        .scalars()
        .all()
    )
    return list(onto), list(to)


def successors(session: Session, control_id: int) -> list[Control]:
    return list(
        session.scalars(
            select(Control)
            .join(ControlMapping, col(ControlMapping.target_id) == col(Control.id))
            .where(col(ControlMapping.source_id) == control_id, col(ControlMapping.kind) == SUCCESSOR)
            .order_by(col(Control.position))
        )
    )


def soa_entries(session: Session, control_ids: Iterable[int]) -> dict[int, SoaEntry]:
    ids = set(control_ids)
    if not ids:
        return {}
    return {e.control_id: e for e in session.scalars(select(SoaEntry).where(col(SoaEntry.control_id).in_(ids)))}


def requirements_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Requirement]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {r.id: r for r in session.scalars(select(Requirement).where(col(Requirement.id).in_(wanted)))}


def controls_of_requirements(session: Session, requirement_ids: Iterable[int]) -> dict[int, Control]:
    wanted = set(requirement_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(col(Requirement.id), Control)
        .join(Control, col(Control.id) == col(Requirement.control_id))
        .where(col(Requirement.id).in_(wanted))
    )
    return {rid: control for rid, control in rows}


# --- evidence and reviews --------------------------------------------------------------------


def evidence_history(
    session: Session, requirement_ids: Iterable[int], start: datetime, end: datetime
) -> list[tuple[int, Evidence]]:
    """(requirement id, evidence) for every item linked to these requirements and collected in
    [start, end), newest first; superseded items included (the page marks them)."""
    ids = set(requirement_ids)
    if not ids:
        return []
    rows = session.execute(
        select(col(EvidenceRequirement.requirement_id), Evidence)
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(
            col(EvidenceRequirement.requirement_id).in_(ids),
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
    )
    return [(rid, evidence) for rid, evidence in rows]


def evidence_linked_to_control(
    session: Session, control_id: int, start: datetime, end: datetime, limit: int | None = None
) -> Sequence[Evidence]:
    return session.scalars(
        select(Evidence)
        .join(EvidenceControl, col(EvidenceControl.evidence_id) == col(Evidence.id))
        .where(
            col(EvidenceControl.control_id) == control_id,
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
        .limit(limit)
    ).all()


def get_evidence(session: Session, evidence_id: int) -> Evidence | None:
    return session.get(Evidence, evidence_id)


def reviews_for(session: Session, engagement_id: int, evidence_ids: Iterable[int]) -> dict[int, EvidenceReview]:
    ids = set(evidence_ids)
    if not ids:
        return {}
    rows = session.scalars(
        select(EvidenceReview).where(
            col(EvidenceReview.engagement_id) == engagement_id, col(EvidenceReview.evidence_id).in_(ids)
        )
    )
    return {r.evidence_id: r for r in rows}


def get_review(session: Session, engagement_id: int, evidence_id: int) -> EvidenceReview | None:
    return session.get(EvidenceReview, (engagement_id, evidence_id))


def save_review(session: Session, review: EvidenceReview) -> EvidenceReview:
    session.add(review)
    session.flush()
    return review


# --- counts per control for the workspace table (fixed number of queries) --------------------


def pending_request_counts(session: Session, engagement_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """Open or answered requests of the engagement, counted (by control, by requirement)."""
    base = (
        select(EvidenceRequest)
        .where(
            col(EvidenceRequest.engagement_id) == engagement_id,
            col(EvidenceRequest.state).in_(PENDING_STATES),
        )
        .subquery()
    )
    by_control = session.execute(
        select(base.c.control_id, func.count()).where(base.c.control_id.is_not(None)).group_by(base.c.control_id)
    )
    by_requirement = session.execute(
        select(base.c.requirement_id, func.count())
        .where(base.c.requirement_id.is_not(None))
        .group_by(base.c.requirement_id)
    )
    return dict(by_control.all()), dict(by_requirement.all())


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


# --- samples ---------------------------------------------------------------------------------


def add_sample(session: Session, sample: Sample, evidence_ids: Sequence[int]) -> Sample:
    session.add(sample)
    session.flush()
    session.add_all(
        SampleItem(sample_id=sample.id, evidence_id=eid, position=i) for i, eid in enumerate(evidence_ids, 1)
    )
    session.flush()
    return sample


def samples_of(session: Session, engagement_id: int) -> Sequence[Sample]:
    return session.scalars(
        select(Sample).where(col(Sample.engagement_id) == engagement_id).order_by(col(Sample.id).desc())
    ).all()


def get_sample(session: Session, sample_id: int) -> Sample | None:
    return session.get(Sample, sample_id)


def sample_items(session: Session, sample_id: int) -> list[tuple[SampleItem, Evidence]]:
    rows = session.execute(
        select(SampleItem, Evidence)
        .join(Evidence, col(Evidence.id) == col(SampleItem.evidence_id))
        .where(col(SampleItem.sample_id) == sample_id)
        .order_by(col(SampleItem.position))
    )
    return [(item, evidence) for item, evidence in rows]


def sample_item(session: Session, sample_id: int, evidence_id: int) -> SampleItem | None:
    return session.get(SampleItem, (sample_id, evidence_id))


def save(session: Session, row: Sample | SampleItem) -> None:
    session.add(row)
    session.flush()


def sample_items_of_finding(session: Session, finding_id: int) -> list[SampleItem]:
    return list(
        session.scalars(
            select(SampleItem)
            .where(col(SampleItem.finding_id) == finding_id)
            .order_by(col(SampleItem.sample_id), col(SampleItem.position))
        )
    )
