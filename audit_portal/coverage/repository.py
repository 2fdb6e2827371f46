"""The queries behind coverage: a fixed handful for a whole framework, never one per control."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, func, literal, or_, select, union_all
from sqlmodel import Session, col

from audit_portal.catalogue.models import (
    KIND_CONTROL,
    MAPS_TO,
    SUCCESSOR,
    Control,
    ControlMapping,
    Requirement,
    RequirementSwitchOff,
)
from audit_portal.db import table_of
from audit_portal.engagements.models import REVIEW_REJECTED, EvidenceReview
from audit_portal.evidence.models import Evidence, EvidenceRequirement, EvidenceSignoff
from audit_portal.findings.models import FAILING_SEVERITIES, OPEN_STATUSES, Finding
from audit_portal.soa.models import SoaEntry


class RequirementLink(NamedTuple):
    control_id: int
    requirement: Requirement
    via_measure: str | None  # the Annex 2 measure that brings the requirement, if any
    switched_off: RequirementSwitchOff | None = None  # the organisation's decision that it does not apply


class NewestEvidence(NamedTuple):
    requirement_id: int
    newest_at: datetime
    evidence_count: int


class EvidenceItem(NamedTuple):
    requirement_id: int
    evidence_id: int
    collector_run_id: int | None
    signed_off: bool


def framework_keys(session: Session) -> list[str]:
    return list(session.scalars(select(col(Control.framework_key)).distinct()))


def framework_controls(session: Session, framework_key: str, kind: str = KIND_CONTROL) -> Sequence[Control]:
    return session.scalars(
        select(Control)
        .where(col(Control.framework_key) == framework_key, col(Control.retired_at).is_(None), col(Control.kind) == kind)
        .order_by(col(Control.position))
    ).all()


def soa_exclusions_2022(session: Session) -> set[int]:
    """Ids of 2022 controls the Statement of Applicability excludes."""
    return set(session.scalars(select(col(SoaEntry.control_id)).where(col(SoaEntry.applicable).is_(False))))


def successors_of(session: Session, control_ids: Iterable[int]) -> dict[int, set[int]]:
    rows = session.execute(
        select(col(ControlMapping.source_id), col(ControlMapping.target_id)).where(
            col(ControlMapping.kind) == SUCCESSOR, col(ControlMapping.source_id).in_(set(control_ids))
        )
    )
    result: dict[int, set[int]] = {}
    for source_id, target_id in rows:
        result.setdefault(source_id, set()).add(target_id)
    return result


def requirement_links(session: Session, framework_key: str) -> list[RequirementLink]:
    """A control's own requirements plus those of every measure mapped to it, in one query."""
    target = table_of(Control).alias("target")
    measure = table_of(Control).alias("measure")
    own: Select[Any, Any, Any] = (
        select(
            col(Requirement.control_id).label("control_id"),
            col(Requirement.id).label("requirement_id"),
            literal(None).label("via_measure"),
        )
        .join(target, target.c.id == col(Requirement.control_id))
        .where(target.c.framework_key == framework_key, col(Requirement.retired_at).is_(None))
    )
    mapped = (
        select(
            col(ControlMapping.target_id).label("control_id"),
            col(Requirement.id).label("requirement_id"),
            measure.c.ref.label("via_measure"),
        )
        .join(measure, measure.c.id == col(ControlMapping.source_id))
        .join(target, target.c.id == col(ControlMapping.target_id))
        .join(Requirement, col(Requirement.control_id) == col(ControlMapping.source_id))
        .where(
            col(ControlMapping.kind) == MAPS_TO,
            target.c.framework_key == framework_key,
            col(Requirement.retired_at).is_(None),
            measure.c.retired_at.is_(None),
        )
    )
    links = session.execute(union_all(own, mapped)).all()
    requirements = {
        r.id: r
        for r in session.scalars(select(Requirement).where(col(Requirement.id).in_({link.requirement_id for link in links})))
    }
    switched_off = switch_offs(session, set(requirements))
    return [
        RequirementLink(link.control_id, requirements[link.requirement_id], link.via_measure, switched_off.get(link.requirement_id))
        for link in links
    ]


def switch_offs(session: Session, requirement_ids: set[int]) -> dict[int, RequirementSwitchOff]:
    """The organisation's switch-offs of these requirements, by requirement id."""
    if not requirement_ids:
        return {}
    return {
        row.requirement_id: row
        for row in session.scalars(select(RequirementSwitchOff).where(col(RequirementSwitchOff.requirement_id).in_(requirement_ids)))
    }


def _counting_evidence(start: datetime, end: datetime, engagement_id: int | None):
    """Evidence links that count: collected in [start, end), not superseded by then, and not
    rejected in the engagement. The period range is the only selective condition, so the
    planner drives the query from the collected_at index; requirements are picked afterwards."""
    conditions = [
        col(Evidence.collected_at) >= start,
        col(Evidence.collected_at) < end,
        or_(col(Evidence.superseded_at).is_(None), col(Evidence.superseded_at) >= end),
    ]
    query = select(col(EvidenceRequirement.requirement_id), col(Evidence.id), col(Evidence.collected_at), col(Evidence.collector_run_id)).join(
        EvidenceRequirement, col(EvidenceRequirement.evidence_id) == col(Evidence.id)
    )
    if engagement_id is not None:
        query = query.outerjoin(
            EvidenceReview,
            and_(col(EvidenceReview.evidence_id) == col(Evidence.id), col(EvidenceReview.engagement_id) == engagement_id),
        )
        conditions.append(or_(col(EvidenceReview.status).is_(None), col(EvidenceReview.status) != REVIEW_REJECTED))
    return query.where(*conditions)


def newest_evidence(
    session: Session, requirement_ids: set[int], start: datetime, end: datetime, engagement_id: int | None
) -> dict[int, NewestEvidence]:
    counting = _counting_evidence(start, end, engagement_id).subquery()
    rows = session.execute(
        select(counting.c.requirement_id, func.max(counting.c.collected_at), func.count()).group_by(
            counting.c.requirement_id
        )
    )
    return {rid: NewestEvidence(rid, newest, count) for rid, newest, count in rows if rid in requirement_ids}


def newest_items(
    session: Session, newest: dict[int, NewestEvidence], start: datetime, end: datetime, engagement_id: int | None
) -> list[EvidenceItem]:
    """The evidence items that are the newest of their requirement (ties all kept), with their
    sign-off state: a lookup by the newest dates already found."""
    if not newest:
        return []
    wanted = {(n.requirement_id, n.newest_at) for n in newest.values()}
    counting = (
        _counting_evidence(start, end, engagement_id)
        .where(col(Evidence.collected_at).in_({n.newest_at for n in newest.values()}))
        .subquery()
    )
    rows = session.execute(
        select(
            counting.c.requirement_id, counting.c.id, counting.c.collected_at, counting.c.collector_run_id,
            col(EvidenceSignoff.evidence_id),
        ).outerjoin(EvidenceSignoff, col(EvidenceSignoff.evidence_id) == counting.c.id)
    )
    return [
        EvidenceItem(rid, eid, run_id, signed is not None)
        for rid, eid, collected_at, run_id, signed in rows
        if (rid, collected_at) in wanted
    ]


def failing_findings(session: Session, evidence_ids: set[int], run_ids: set[int]) -> Sequence[Finding]:
    """Open findings of high severity or above raised on these evidence items or runs."""
    if not evidence_ids and not run_ids:
        return []
    return session.scalars(
        select(Finding).where(
            col(Finding.status).in_(OPEN_STATUSES),
            col(Finding.severity).in_(FAILING_SEVERITIES),
            or_(col(Finding.evidence_id).in_(evidence_ids), col(Finding.last_run_id).in_(run_ids)),
        )
    ).all()
