"""The queries behind an evidence package: a fixed handful for a whole engagement, never one per
item or per control."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, or_, select, union
from sqlmodel import Session, col

from audit_portal.auth.models import UserAccount
from audit_portal.catalogue.models import MAPS_TO, Control, ControlMapping
from audit_portal.db import table_of
from audit_portal.engagements.models import EvidenceReview
from audit_portal.evidence.models import Evidence, EvidenceControl, EvidenceRequirement
from audit_portal.findings.models import Finding, FindingControl
from audit_portal.soa.models import SoaEntry


class RequirementLinkRow(NamedTuple):
    requirement_id: int
    evidence: Evidence
    uploaded_by: str | None


class ControlLinkRow(NamedTuple):
    control_id: int  # the control or Annex 2 measure the evidence names directly
    evidence: Evidence
    uploaded_by: str | None


def _in_period(start: datetime, end: datetime):
    return and_(col(Evidence.collected_at) >= start, col(Evidence.collected_at) < end)


def evidence_by_requirement(
    session: Session, requirement_ids: Iterable[int], start: datetime, end: datetime
) -> list[RequirementLinkRow]:
    """Evidence linked to these requirements and collected in [start, end), superseded and
    rejected items included."""
    ids = set(requirement_ids)
    if not ids:
        return []
    rows = session.execute(
        select(col(EvidenceRequirement.requirement_id), Evidence, col(UserAccount.username))
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .outerjoin(UserAccount, col(UserAccount.id) == col(Evidence.uploaded_by_id))
        .where(col(EvidenceRequirement.requirement_id).in_(ids), _in_period(start, end))
        .order_by(col(Evidence.collected_at), col(Evidence.id))
    )
    return [RequirementLinkRow(rid, evidence, username) for rid, evidence, username in rows]


def evidence_by_control(
    session: Session, control_ids: Iterable[int], start: datetime, end: datetime
) -> list[ControlLinkRow]:
    """Evidence linked directly to these controls (or measures) and collected in [start, end)."""
    ids = set(control_ids)
    if not ids:
        return []
    rows = session.execute(
        select(col(EvidenceControl.control_id), Evidence, col(UserAccount.username))
        .join(Evidence, col(Evidence.id) == col(EvidenceControl.evidence_id))
        .outerjoin(UserAccount, col(UserAccount.id) == col(Evidence.uploaded_by_id))
        .where(col(EvidenceControl.control_id).in_(ids), _in_period(start, end))
        .order_by(col(Evidence.collected_at), col(Evidence.id))
    )
    return [ControlLinkRow(cid, evidence, username) for cid, evidence, username in rows]


def measures_mapped_to(session: Session, control_ids: Iterable[int]) -> dict[int, set[int]]:
    """measure (or other source control) id -> the given controls it maps to."""
    ids = set(control_ids)
    if not ids:
        return {}
    result: dict[int, set[int]] = defaultdict(set)
    for source_id, target_id in session.execute(
        select(col(ControlMapping.source_id), col(ControlMapping.target_id)).where(
            col(ControlMapping.kind) == MAPS_TO, col(ControlMapping.target_id).in_(ids)
        )
    ):
        result[source_id].add(target_id)
    return dict(result)


def reviews(session: Session, engagement_id: int) -> dict[int, EvidenceReview]:
    return {
        review.evidence_id: review
        for review in session.scalars(select(EvidenceReview).where(col(EvidenceReview.engagement_id) == engagement_id))
    }


def successors(session: Session, start: datetime, end: datetime) -> dict[int, int]:
    """superseded evidence id -> the id of the item that superseded it, for items of the period.

    Bounded by the period rather than by a list of ids, so the statement stays one whatever the
    number of items."""
    older = table_of(Evidence).alias("older")
    rows = session.execute(
        select(col(Evidence.supersedes_id), col(Evidence.id))
        .join(older, older.c.id == col(Evidence.supersedes_id))
        .where(older.c.collected_at >= start, older.c.collected_at < end)
        .order_by(col(Evidence.id))
    )
    result: dict[int, int] = {}
    for superseded_id, newer_id in rows:
        result.setdefault(superseded_id, newer_id)
    return result


def soa_entries(session: Session, control_ids: Iterable[int]) -> dict[int, SoaEntry]:
    ids = set(control_ids)
    if not ids:
        return {}
    return {entry.control_id: entry for entry in session.scalars(select(SoaEntry).where(col(SoaEntry.control_id).in_(ids)))}


def findings(
    session: Session,
    *,
    engagement_id: int,
    control_ids: Iterable[int],
    requirement_ids: Iterable[int],
    start: datetime,
    end: datetime,
) -> list[tuple[Finding, list[str]]]:
    """The engagement's own (auditor) findings, and collector findings on the in-scope controls or
    on evidence of the period that were open at some time in the period; each with the refs of
    the controls it names."""
    controls = set(control_ids)
    evidence_in_scope = (
        select(col(EvidenceRequirement.evidence_id))
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(col(EvidenceRequirement.requirement_id).in_(set(requirement_ids) or {-1}), _in_period(start, end))
    )
    on_controls = select(col(FindingControl.finding_id)).where(col(FindingControl.control_id).in_(controls or {-1}))
    relevant = union(
        select(col(Finding.id)).where(col(Finding.engagement_id) == engagement_id),
        select(col(Finding.id)).where(
            col(Finding.engagement_id).is_(None),
            or_(col(Finding.id).in_(on_controls), col(Finding.evidence_id).in_(evidence_in_scope)),
            col(Finding.created_at) < end,
            or_(col(Finding.closed_at).is_(None), col(Finding.closed_at) >= start),
        ),
    ).subquery()
    found = session.scalars(
        select(Finding).where(col(Finding.id).in_(select(relevant.c.id))).order_by(col(Finding.created_at), col(Finding.id))
    ).all()
    refs: dict[int, list[str]] = defaultdict(list)
    for finding_id, framework_key, ref in session.execute(
        select(col(FindingControl.finding_id), col(Control.framework_key), col(Control.ref))
        .join(Control, col(Control.id) == col(FindingControl.control_id))
        .where(col(FindingControl.finding_id).in_(select(relevant.c.id)))
        .order_by(col(FindingControl.finding_id), col(Control.framework_key), col(Control.position))
    ):
        refs[finding_id].append(f"{framework_key}:{ref}")
    return [(finding, refs.get(finding.id, [])) for finding in found]
