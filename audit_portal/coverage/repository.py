"""The queries behind coverage: a fixed handful for a whole framework, never one per control."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlmodel import Session

from audit_portal.catalogue.models import (
    KIND_CONTROL,
    MAPS_TO,
    SUCCESSOR,
    Control,
    ControlMapping,
    Requirement,
    RequirementSwitchOff,
)
from audit_portal.engagements.models import REVIEW_REJECTED, EvidenceReview
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence, EvidenceRequirement, EvidenceSignoff
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
    count: int


class EvidenceItem(NamedTuple):
    requirement_id: int
    evidence_id: int
    collector_run_id: int | None
    signed_off: bool


def framework_keys(session: Session) -> list[str]:
    return list(session.scalars(select(Control.framework_key).distinct()))


def framework_controls(session: Session, framework_key: str, kind: str = KIND_CONTROL) -> Sequence[Control]:
    return session.scalars(
        select(Control)
        .where(Control.framework_key == framework_key, Control.retired_at.is_(None), Control.kind == kind)
        .order_by(Control.position)
    ).all()


def soa_exclusions_2022(session: Session) -> set[int]:
    """Ids of 2022 controls the Statement of Applicability excludes."""
    return set(session.scalars(select(SoaEntry.control_id).where(SoaEntry.applicable.is_(False))))


def successors_of(session: Session, control_ids: Iterable[int]) -> dict[int, set[int]]:
    rows = session.execute(
        select(ControlMapping.source_id, ControlMapping.target_id).where(
            ControlMapping.kind == SUCCESSOR, ControlMapping.source_id.in_(set(control_ids))
        )
    )
    result: dict[int, set[int]] = {}
    for source_id, target_id in rows:
        result.setdefault(source_id, set()).add(target_id)
    return result


def requirement_links(session: Session, framework_key: str) -> list[RequirementLink]:
    """A control's own requirements plus those of every measure mapped to it, in one query."""
    target = Control.__table__.alias("target")
    measure = Control.__table__.alias("measure")
    own = (
        select(
            Requirement.control_id.label("control_id"),
            Requirement.id.label("requirement_id"),
            literal(None).label("via_measure"),
        )
        .join(target, target.c.id == Requirement.control_id)
        .where(target.c.framework_key == framework_key, Requirement.retired_at.is_(None))
    )
    mapped = (
        select(
            ControlMapping.target_id.label("control_id"),
            Requirement.id.label("requirement_id"),
            measure.c.ref.label("via_measure"),
        )
        .join(measure, measure.c.id == ControlMapping.source_id)
        .join(target, target.c.id == ControlMapping.target_id)
        .join(Requirement, Requirement.control_id == ControlMapping.source_id)
        .where(
            ControlMapping.kind == MAPS_TO,
            target.c.framework_key == framework_key,
            Requirement.retired_at.is_(None),
            measure.c.retired_at.is_(None),
        )
    )
    links = session.execute(union_all(own, mapped)).all()
    requirements = {
        r.id: r
        for r in session.scalars(select(Requirement).where(Requirement.id.in_({link.requirement_id for link in links})))
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
        for row in session.scalars(select(RequirementSwitchOff).where(RequirementSwitchOff.requirement_id.in_(requirement_ids)))
    }


def _counting_evidence(start: datetime, end: datetime, engagement_id: int | None):  # type: ignore[no-untyped-def]
    """Evidence links that count: collected in [start, end), not superseded by then, not rejected
    in the engagement, and not corrupted (a stored file that no longer matches its hash proves
    nothing until the original is uploaded again). The period range is the only selective
    condition, so the planner drives the query from the collected_at index; requirements are
    picked afterwards."""
    conditions = [
        Evidence.collected_at >= start,
        Evidence.collected_at < end,
        or_(Evidence.superseded_at.is_(None), Evidence.superseded_at >= end),
        Evidence.integrity != INTEGRITY_CORRUPTED,
    ]
    query = select(EvidenceRequirement.requirement_id, Evidence.id, Evidence.collected_at, Evidence.collector_run_id).join(
        EvidenceRequirement, EvidenceRequirement.evidence_id == Evidence.id
    )
    if engagement_id is not None:
        query = query.outerjoin(
            EvidenceReview,
            and_(EvidenceReview.evidence_id == Evidence.id, EvidenceReview.engagement_id == engagement_id),
        )
        conditions.append(or_(EvidenceReview.status.is_(None), EvidenceReview.status != REVIEW_REJECTED))
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
        .where(Evidence.collected_at.in_({n.newest_at for n in newest.values()}))
        .subquery()
    )
    rows = session.execute(
        select(
            counting.c.requirement_id, counting.c.id, counting.c.collected_at, counting.c.collector_run_id,
            EvidenceSignoff.evidence_id,
        ).outerjoin(EvidenceSignoff, EvidenceSignoff.evidence_id == counting.c.id)
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
            Finding.status.in_(OPEN_STATUSES),
            Finding.severity.in_(FAILING_SEVERITIES),
            or_(Finding.evidence_id.in_(evidence_ids), Finding.last_run_id.in_(run_ids)),
        )
    ).all()
