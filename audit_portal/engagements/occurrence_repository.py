"""Queries for occurrences: the evidence of one requirement grouped into what an auditor reviews.

An occurrence is one collector run (all items sharing ``collector_run_id``: raw output,
normalised result and report) or one upload batch (items without a run that share the uploader
or service token and ``collected_at``). The history is keyset-paged on the occurrence's newest
``(collected_at, id)`` so a requirement with a hundred thousand items still costs one grouped
query per page and renders one page of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from audit_portal.collection.models import CollectorRun
from audit_portal.db import table_of
from audit_portal.engagements.models import REVIEW_ACCEPTED, REVIEW_REJECTED, EvidenceReview
from audit_portal.evidence.models import Evidence, EvidenceRequirement

UPLOADS = "upload"  # the run-status filter value that selects upload batches


@dataclass(frozen=True)
class OccurrenceRowData:
    newest_at: datetime
    newest_id: int
    item_count: int
    accepted: int
    rejected: int
    run_id: int | None
    run_status: str | None


def _group_columns() -> list[Any]:
    """The occurrence key: the run, or (for items without a run) uploader, token and time."""
    no_run = col(Evidence.collector_run_id).is_(None)
    return [
        col(Evidence.collector_run_id),
        case((no_run, col(Evidence.collected_at)), else_=None),
        case((no_run, col(Evidence.uploaded_by_id)), else_=None),
        case((no_run, col(Evidence.token_id)), else_=None),
    ]


def occurrence_page(
    session: Session,
    *,
    engagement_id: int,
    requirement_id: int,
    start: datetime,
    end: datetime,
    before: tuple[datetime, int] | None,
    review: str,
    run_status: str,
    limit: int,
) -> list[OccurrenceRowData]:
    """One page of a requirement's occurrences collected in [start, end), newest first, older
    than ``before`` (the newest (collected_at, id) of the last row of the previous page)."""
    newest_at = func.max(col(Evidence.collected_at))
    newest_id = func.max(col(Evidence.id))
    item_count = func.count(col(Evidence.id))
    accepted = func.sum(case((col(EvidenceReview.status) == REVIEW_ACCEPTED, 1), else_=0))
    rejected = func.sum(case((col(EvidenceReview.status) == REVIEW_REJECTED, 1), else_=0))
    query = (
        select(
            newest_at,
            newest_id,
            item_count,
            accepted,
            rejected,
            func.max(col(Evidence.collector_run_id)),
            func.max(col(CollectorRun.status)),
        )
        .select_from(EvidenceRequirement)
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .outerjoin(CollectorRun, col(CollectorRun.id) == col(Evidence.collector_run_id))
        .outerjoin(
            EvidenceReview,
            and_(
                col(EvidenceReview.evidence_id) == col(Evidence.id),
                col(EvidenceReview.engagement_id) == engagement_id,
            ),
        )
        .where(
            col(EvidenceRequirement.requirement_id) == requirement_id,
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .group_by(*_group_columns())
    )
    if run_status == UPLOADS:
        query = query.where(col(Evidence.collector_run_id).is_(None))
    elif run_status:
        query = query.where(col(CollectorRun.status) == run_status)
    if review == REVIEW_ACCEPTED:
        query = query.having(accepted == item_count)
    elif review == REVIEW_REJECTED:
        query = query.having(rejected > 0)
    elif review:  # pending: nothing rejected and not everything accepted yet
        query = query.having(rejected == 0, accepted < item_count)
    if before is not None:
        query = query.having(
            sa.tuple_(newest_at, newest_id)
            < sa.tuple_(
                sa.bindparam("before_at", before[0], type_=table_of(Evidence).c.collected_at.type),
                sa.bindparam("before_id", before[1], type_=sa.Integer),
            )
        )
    query = query.order_by(newest_at.desc(), newest_id.desc()).limit(limit)
    return [
        OccurrenceRowData(row[0], row[1], row[2], row[3] or 0, row[4] or 0, row[5], row[6])
        for row in session.execute(query)
    ]


def occurrence_members(
    session: Session, requirement_id: int, anchor: Evidence, start: datetime, end: datetime
) -> Sequence[Evidence]:
    """Every item of the occurrence ``anchor`` belongs to, as linked to the requirement and
    collected in [start, end), newest first."""
    query = (
        select(Evidence)
        .join(EvidenceRequirement, col(EvidenceRequirement.evidence_id) == col(Evidence.id))
        .where(
            col(EvidenceRequirement.requirement_id) == requirement_id,
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
    )
    if anchor.collector_run_id is not None:
        query = query.where(col(Evidence.collector_run_id) == anchor.collector_run_id)
    else:
        query = query.where(
            col(Evidence.collector_run_id).is_(None),
            col(Evidence.collected_at) == anchor.collected_at,
            _same(col(Evidence.uploaded_by_id), anchor.uploaded_by_id),
            _same(col(Evidence.token_id), anchor.token_id),
        )
    return session.scalars(query).all()


def _same(column: Any, value: object) -> sa.ColumnElement:
    return column.is_(None) if value is None else column == value


def is_linked(session: Session, evidence_id: int, requirement_id: int) -> bool:
    return session.get(EvidenceRequirement, (evidence_id, requirement_id)) is not None


def occurrence_anchors(session: Session, requirement_id: int, start: datetime, end: datetime) -> list[int]:
    """The anchor (newest item id) of every occurrence of the requirement collected in
    [start, end), ascending: the population a sample is drawn from."""
    query = (
        select(func.max(col(Evidence.id)))
        .select_from(EvidenceRequirement)
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(
            col(EvidenceRequirement.requirement_id) == requirement_id,
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .group_by(*_group_columns())
    )
    return sorted(session.scalars(query))


def run_statuses(session: Session, run_ids: set[int]) -> dict[int, str]:
    if not run_ids:
        return {}
    return dict(
        session.execute(
            select(col(CollectorRun.id), col(CollectorRun.status)).where(col(CollectorRun.id).in_(run_ids))
        ).all()
    )
