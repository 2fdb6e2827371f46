"""The queries of evidence requests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from audit_portal.requests.models import PENDING_STATES, EvidenceRequest, EvidenceRequestItem


def add(session: Session, evidence_request: EvidenceRequest) -> EvidenceRequest:
    session.add(evidence_request)
    session.flush()
    return evidence_request


def get(session: Session, request_id: int) -> EvidenceRequest | None:
    return session.get(EvidenceRequest, request_id)


def of_engagement(
    session: Session, engagement_id: int, *, states: Iterable[str] | None = None
) -> Sequence[EvidenceRequest]:
    query = select(EvidenceRequest).where(col(EvidenceRequest.engagement_id) == engagement_id)
    if states:
        query = query.where(col(EvidenceRequest.state).in_(set(states)))
    return session.scalars(query.order_by(col(EvidenceRequest.due_date), col(EvidenceRequest.id))).all()


def for_control(
    session: Session, engagement_id: int, control_id: int, requirement_ids: Iterable[int]
) -> Sequence[EvidenceRequest]:
    return session.scalars(
        select(EvidenceRequest)
        .where(
            col(EvidenceRequest.engagement_id) == engagement_id,
            or_(
                col(EvidenceRequest.control_id) == control_id,
                col(EvidenceRequest.requirement_id).in_(set(requirement_ids)),
            ),
        )
        .order_by(col(EvidenceRequest.due_date), col(EvidenceRequest.id))
    ).all()


def evidence_ids_of(session: Session, request_ids: Iterable[int]) -> dict[int, list[int]]:
    """The evidence each request links, by request."""
    ids = set(request_ids)
    result: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(
        select(col(EvidenceRequestItem.request_id), col(EvidenceRequestItem.evidence_id)).where(
            col(EvidenceRequestItem.request_id).in_(ids)
        )
    )
    for request_id, evidence_id in rows:
        result[request_id].append(evidence_id)
    return result


def link(session: Session, item: EvidenceRequestItem) -> None:
    if session.get(EvidenceRequestItem, (item.request_id, item.evidence_id)) is None:
        session.add(item)
        session.flush()


def pending_request_counts(session: Session, engagement_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """Open or answered requests of the engagement, counted (by control, by requirement), from
    one grouped statement over the few pending requests."""
    rows = session.execute(
        select(col(EvidenceRequest.control_id), col(EvidenceRequest.requirement_id), func.count())
        .where(
            col(EvidenceRequest.engagement_id) == engagement_id,
            col(EvidenceRequest.state).in_(PENDING_STATES),
        )
        .group_by(col(EvidenceRequest.control_id), col(EvidenceRequest.requirement_id))
    )
    by_control: dict[int, int] = defaultdict(int)
    by_requirement: dict[int, int] = defaultdict(int)
    for control_id, requirement_id, count in rows:
        if control_id is not None:
            by_control[control_id] += count
        if requirement_id is not None:
            by_requirement[requirement_id] += count
    return dict(by_control), dict(by_requirement)
