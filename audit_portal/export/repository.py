"""The queries behind an evidence package: a fixed handful for the whole engagement and one per
control folder, never one per item; evidence rows are streamed in batches, never loaded at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import CTE, ColumnElement, Integer, Select, and_, cast, func, null, or_, select, union, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from audit_portal.auth.models import UserAccount
from audit_portal.catalogue.models import MAPS_TO, Control, ControlMapping
from audit_portal.engagements.models import EvidenceReview
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence, EvidenceControl, EvidenceRequirement
from audit_portal.findings.models import Finding, FindingControl
from audit_portal.soa.models import SoaEntry


class PackagedEvidence(NamedTuple):
    """The fields of an evidence record that a package writes: read as plain columns, since
    building a record object per item cost more than the rest of its manifest entry."""

    id: int
    title: str
    original_filename: str
    content_type: str
    source_kind: str
    collector_instance: str | None
    collector_run_id: int | None
    collected_at: datetime
    period_from: date | None
    period_to: date | None
    valid_until: date | None
    superseded_at: datetime | None
    supersedes_id: int | None
    size: int
    sha256: str
    store_key: str


_PACKAGED_COLUMNS = [getattr(Evidence, name) for name in PackagedEvidence._fields]


class FileRow(NamedTuple):
    """One link of an evidence item to a control folder, with what its manifest entry needs."""

    requirement_id: int | None  # None: linked to the control itself or to a measure mapped to it
    evidence: PackagedEvidence
    uploaded_by: str | None
    review_status: str | None
    review_comment: str | None
    superseded_by: int | None  # the oldest item that supersedes this one


class ItemTotals(NamedTuple):
    items: int
    superseded: int
    reviews: dict[str, int]  # review status -> items with that review in the engagement
    corrupted_ids: list[int]


def _in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(col(Evidence.collected_at) >= start, col(Evidence.collected_at) < end)


def _links(requirement_ids: Iterable[int], source_control_ids: Iterable[int]) -> CTE | None:
    """(evidence_id, requirement_id) of every link to these requirements or, requirement_id NULL,
    directly to these controls or measures; None when there is nothing to link to.

    Materialized, so the database starts from the few links and looks their items up: as a
    plain subquery, SQLite walked every item of the period by collection time and probed each
    for a link, once per control folder (a third of a second per folder at 100,000 items)."""
    requirements, sources = set(requirement_ids), set(source_control_ids)
    parts: list[Select[Any, Any]] = []
    if requirements:
        parts.append(
            select(
                col(EvidenceRequirement.evidence_id).label("evidence_id"),
                col(EvidenceRequirement.requirement_id).label("requirement_id"),
            ).where(col(EvidenceRequirement.requirement_id).in_(requirements))
        )
    if sources:
        parts.append(
            select(
                col(EvidenceControl.evidence_id).label("evidence_id"), cast(null(), Integer).label("requirement_id")
            ).where(col(EvidenceControl.control_id).in_(sources))
        )
    if not parts:
        return None
    return (union_all(*parts) if len(parts) > 1 else parts[0]).cte("links").prefix_with("MATERIALIZED")


def iter_folder_rows(
    session: Session,
    *,
    engagement_id: int,
    requirement_ids: Iterable[int],
    source_control_ids: Iterable[int],
    start: datetime,
    end: datetime,
    batch_size: int,
) -> Iterator[FileRow]:
    """The links of one control folder's evidence collected in [start, end), ordered by collection
    time, id, then requirement (the links of one item are adjacent), fetched ``batch_size`` rows at
    a time (a server-side cursor on PostgreSQL): memory holds one batch, never the folder."""
    links = _links(requirement_ids, source_control_ids)
    if links is None:
        return
    newer = aliased(Evidence)
    successor = select(func.min(newer.id)).where(col(newer.supersedes_id) == col(Evidence.id)).scalar_subquery()
    statement = (
        select(
            links.c.requirement_id,
            col(UserAccount.username),
            col(EvidenceReview.status),
            col(EvidenceReview.comment),
            successor,
            *_PACKAGED_COLUMNS,
        )
        .join(Evidence, col(Evidence.id) == links.c.evidence_id)
        .outerjoin(UserAccount, col(UserAccount.id) == col(Evidence.uploaded_by_id))
        .outerjoin(
            EvidenceReview,
            and_(
                col(EvidenceReview.engagement_id) == engagement_id, col(EvidenceReview.evidence_id) == col(Evidence.id)
            ),
        )
        .where(_in_period(start, end))
        .order_by(col(Evidence.collected_at), col(Evidence.id), links.c.requirement_id)
        .execution_options(yield_per=batch_size)
    )
    for requirement_id, username, review_status, review_comment, superseded_by, *fields in session.execute(statement):
        yield FileRow(requirement_id, PackagedEvidence(*fields), username, review_status, review_comment, superseded_by)


class RunLink(NamedTuple):
    """One link of an item collected by a collector run, with what the run's review rows need."""

    id: int
    collector_run_id: int
    collector_instance: str | None
    collected_at: datetime
    requirement_id: int | None  # None: linked to a control or measure


def iter_run_links(
    session: Session,
    *,
    requirement_ids: Iterable[int],
    source_control_ids: Iterable[int],
    start: datetime,
    end: datetime,
    batch_size: int,
) -> Iterator[RunLink]:
    """The links of the package's items that a collector run gathered, in item order (the links
    of one item adjacent), as plain rows fetched ``batch_size`` at a time: one query for the
    whole package, where reading the folders again cost one ORM pass over every file."""
    links = _links(requirement_ids, source_control_ids)
    if links is None:
        return
    statement = (
        select(
            col(Evidence.id),
            col(Evidence.collector_run_id),
            col(Evidence.collector_instance),
            col(Evidence.collected_at),
            links.c.requirement_id,
        )
        .join(Evidence, col(Evidence.id) == links.c.evidence_id)
        .where(_in_period(start, end), col(Evidence.collector_run_id).is_not(None))
        .order_by(col(Evidence.id), links.c.requirement_id)
        .execution_options(yield_per=batch_size)
    )
    for row in session.execute(statement):
        yield RunLink(*row)


def folder_totals(
    session: Session,
    *,
    requirement_ids: Iterable[int],
    source_control_ids: Iterable[int],
    start: datetime,
    end: datetime,
) -> tuple[int, int]:
    """(items, bytes) of one control folder, counted by the database."""
    links = _links(requirement_ids, source_control_ids)
    if links is None:
        return 0, 0
    count, size = session.execute(
        select(func.count(col(Evidence.id)), func.coalesce(func.sum(col(Evidence.size)), 0)).where(
            col(Evidence.id).in_(select(links.c.evidence_id)), _in_period(start, end)
        )
    ).one()
    return int(count), int(size)


def item_totals(
    session: Session,
    *,
    engagement_id: int,
    requirement_ids: Iterable[int],
    source_control_ids: Iterable[int],
    start: datetime,
    end: datetime,
) -> ItemTotals:
    """Distinct items of the whole package (an item in several folders counts once)."""
    links = _links(requirement_ids, source_control_ids)
    if links is None:
        return ItemTotals(0, 0, {}, [])
    in_package = and_(col(Evidence.id).in_(select(links.c.evidence_id)), _in_period(start, end))
    items, superseded = session.execute(
        select(func.count(col(Evidence.id)), func.count(col(Evidence.superseded_at))).where(in_package)
    ).one()
    reviews = {
        status: int(count)
        for status, count in session.execute(
            select(col(EvidenceReview.status), func.count())
            .join(Evidence, col(Evidence.id) == col(EvidenceReview.evidence_id))
            .where(col(EvidenceReview.engagement_id) == engagement_id, in_package)
            .group_by(col(EvidenceReview.status))
        )
    }
    corrupted = list(
        session.scalars(
            select(col(Evidence.id))
            .where(in_package, col(Evidence.integrity) == INTEGRITY_CORRUPTED)
            .order_by(col(Evidence.id))
        )
    )
    return ItemTotals(int(items), int(superseded), reviews, corrupted)


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


def soa_entries(session: Session, control_ids: Iterable[int]) -> dict[int, SoaEntry]:
    ids = set(control_ids)
    if not ids:
        return {}
    return {
        entry.control_id: entry for entry in session.scalars(select(SoaEntry).where(col(SoaEntry.control_id).in_(ids)))
    }


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
        select(Finding)
        .where(col(Finding.id).in_(select(relevant.c.id)))
        .order_by(col(Finding.created_at), col(Finding.id))
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
