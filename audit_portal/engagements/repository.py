"""The queries of engagements: the engagements themselves, their auditors and scope, reviews,
the evidence history of requirements, and the per-control counts the workspace shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from audit_portal.engagements.models import (
    Engagement,
    EngagementAuditor,
    EngagementScope,
    EvidenceReview,
)
from audit_portal.engagements.sample_models import Sample, SampleItem

# --- engagements ------------------------------------------------------------------------------


def get(session: Session, engagement_id: int) -> Engagement | None:
    return session.get(Engagement, engagement_id)


def by_ids(session: Session, ids: Iterable[int]) -> dict[int, Engagement]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {e.id: e for e in session.scalars(select(Engagement).where(col(Engagement.id).in_(wanted)))}


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


def add(session: Session, engagement: Engagement) -> Engagement:
    session.add(engagement)
    session.flush()
    return engagement


def auditor_ids_of(session: Session, engagement_ids: Iterable[int]) -> dict[int, list[int]]:
    """The auditors assigned to each engagement, by engagement id."""
    ids = set(engagement_ids)
    result: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return result
    for row in session.scalars(select(EngagementAuditor).where(col(EngagementAuditor.engagement_id).in_(ids))):
        result[row.engagement_id].append(row.user_id)
    return result


def engagements_by_auditor(session: Session) -> dict[int, set[int]]:
    """Each auditor's engagements, by user id."""
    result: dict[int, set[int]] = {}
    for row in session.scalars(select(EngagementAuditor)):
        result.setdefault(row.user_id, set()).add(row.engagement_id)
    return result


def replace_auditors(session: Session, engagement_id: int, user_ids: Iterable[int]) -> None:
    session.execute(delete(EngagementAuditor).where(col(EngagementAuditor.engagement_id) == engagement_id))
    session.add_all(EngagementAuditor(engagement_id=engagement_id, user_id=uid) for uid in set(user_ids))
    session.flush()


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


# --- evidence and reviews --------------------------------------------------------------------


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


def sample_items(session: Session, sample_id: int) -> Sequence[SampleItem]:
    return session.scalars(
        select(SampleItem).where(col(SampleItem.sample_id) == sample_id).order_by(col(SampleItem.position))
    ).all()


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
