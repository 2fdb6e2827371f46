"""Occurrences: the unit an auditor reviews (one collector run, or one upload batch), the
keyset-paged and filterable history of a requirement's occurrences, and review of a whole
occurrence (every item gets its own review and its own audit event)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.collection.models import RUN_STATUSES
from audit_portal.collection.signoffs import SignoffState, signoff_grace
from audit_portal.engagements import occurrence_repository as repository
from audit_portal.engagements import repository as engagement_repository
from audit_portal.engagements import scope
from audit_portal.engagements.models import (
    REVIEW_ACCEPTED,
    REVIEW_PENDING,
    REVIEW_REJECTED,
    Engagement,
    EvidenceReview,
)
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.i18n import N_

PAGE_SIZE = 20
REVIEW_FILTERS = (REVIEW_PENDING, REVIEW_ACCEPTED, REVIEW_REJECTED)
RUN_FILTERS = (repository.UPLOADS, *RUN_STATUSES)


@dataclass(frozen=True)
class OccurrenceFilter:
    """What the history shows: a period inside the engagement's, a review state, a run status
    (or "upload" for upload batches) and the keyset cursor of the page."""

    period_from: str = ""
    period_to: str = ""
    review: str = ""
    run_status: str = ""
    before: str = ""  # "<newest collected_at ISO>|<newest id>" of the previous page's last row

    def checked(self) -> OccurrenceFilter:
        """The filter with unknown values dropped, so a hand-made URL shows the unfiltered list
        rather than an error page."""
        return OccurrenceFilter(
            _date_text(self.period_from),
            _date_text(self.period_to),
            self.review if self.review in REVIEW_FILTERS else "",
            self.run_status if self.run_status in RUN_FILTERS else "",
            self.before if decode_cursor(self.before) else "",
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.period_from or self.period_to or self.review or self.run_status)

    def params(self, **changes: str) -> dict[str, str]:
        values = replace(self, **changes)
        return {k: v for k, v in vars(values).items() if v}


def _date_text(value: str) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return ""


def encode_cursor(at: datetime, evidence_id: int) -> str:
    return f"{at.isoformat()}|{evidence_id}"


def decode_cursor(value: str) -> tuple[datetime, int] | None:
    at, _, evidence_id = (value or "").partition("|")
    try:
        return datetime.fromisoformat(at), int(evidence_id)
    except ValueError:
        return None


@dataclass(frozen=True)
class OccurrenceRow:
    """One line of a requirement's history: an occurrence, its size and its review state."""

    anchor_id: int  # the newest item: names the occurrence in links and forms
    newest_at: datetime
    item_count: int
    accepted: int
    rejected: int
    run_id: int | None
    run_status: str | None
    title: str = ""  # the newest item's title

    @property
    def review_status(self) -> str:
        if self.rejected:
            return REVIEW_REJECTED
        if self.accepted == self.item_count:
            return REVIEW_ACCEPTED
        return REVIEW_PENDING

    @property
    def kind_label(self) -> str:
        return f"collector run {self.run_id}" if self.run_id is not None else "upload"

    @property
    def cursor(self) -> str:
        return encode_cursor(self.newest_at, self.anchor_id)


@dataclass(frozen=True)
class OccurrenceItem:
    evidence: Evidence
    review: EvidenceReview | None
    is_newest: bool = False  # the row partial marks counting items; the heading says "newest"
    signoff: SignoffState | None = None  # the review sign-off, for a requirement that needs one

    @property
    def review_status(self) -> str:
        return self.review.status if self.review else REVIEW_PENDING


@dataclass(frozen=True)
class History:
    requirement_id: int
    rows: list[OccurrenceRow]
    next_cursor: str | None  # None: this is the last page
    filter: OccurrenceFilter


def history(session: Session, engagement: Engagement, requirement_id: int, wanted: OccurrenceFilter) -> History:
    """One page of the requirement's occurrences in the engagement's period, newest first."""
    wanted = wanted.checked()
    start, end = _window(engagement, wanted)
    rows = repository.occurrence_page(
        session,
        engagement_id=engagement.id,
        requirement_id=requirement_id,
        start=start,
        end=end,
        before=decode_cursor(wanted.before),
        review=wanted.review,
        run_status=wanted.run_status,
        limit=PAGE_SIZE + 1,  # one more tells whether an older page exists
    )
    anchors = evidence_repository.evidence_by_ids(session, [r.newest_id for r in rows[:PAGE_SIZE]])
    page = [
        OccurrenceRow(
            r.newest_id,
            r.newest_at,
            r.item_count,
            r.accepted,
            r.rejected,
            r.run_id,
            r.run_status,
            anchors[r.newest_id].title if r.newest_id in anchors else "",
        )
        for r in rows[:PAGE_SIZE]
    ]
    more = len(rows) > PAGE_SIZE
    return History(requirement_id, page, page[-1].cursor if more and page else None, wanted)


def newest(
    session: Session, engagement: Engagement, requirement_id: int, counting: tuple[int, ...] = ()
) -> list[OccurrenceItem]:
    """Every item of the requirement's newest occurrence in the period, with its review; the
    ``counting`` items (coverage's newest counting evidence) are marked newest."""
    rows = repository.occurrence_page(
        session,
        engagement_id=engagement.id,
        requirement_id=requirement_id,
        start=scope.engagement_window(engagement)[0],
        end=scope.engagement_window(engagement)[1],
        before=None,
        review="",
        run_status="",
        limit=1,
    )
    if not rows:
        return []
    items = items_of(session, engagement, requirement_id, rows[0].newest_id)
    return [replace(item, is_newest=item.evidence.id in counting) for item in items]


def items_of(session: Session, engagement: Engagement, requirement_id: int, anchor_id: int) -> list[OccurrenceItem]:
    """The items of the occurrence ``anchor_id`` belongs to (404 outside the period or when the
    item is not evidence for the requirement)."""
    start, end = scope.engagement_window(engagement)
    anchor = evidence_repository.get_evidence(session, anchor_id)
    if (
        anchor is None
        or not start <= clock.as_utc(anchor.collected_at) < end
        or not repository.is_linked(session, anchor_id, requirement_id)
    ):
        raise scope.OutOfScope(
            N_("There is no occurrence %(id)s in this engagement's period."), values={"id": anchor_id}
        )
    members = repository.occurrence_members(session, requirement_id, anchor, start, end)
    reviews = engagement_repository.reviews_for(session, engagement.id, [e.id for e in members])
    signoffs = _signoffs(session, requirement_id, members)
    return [OccurrenceItem(e, reviews.get(e.id), signoff=signoffs.get(e.id)) for e in members]


def _signoffs(session: Session, requirement_id: int, members: Sequence[Evidence]) -> dict[int, SignoffState]:
    """Evidence id -> who signed its review off when, for a requirement that needs a sign-off."""
    requirement = catalogue_repository.get_requirement(session, requirement_id)
    grace = signoff_grace([requirement]) if requirement is not None else None
    if grace is None:
        return {}
    rows = evidence_repository.signoffs_of(session, [e.id for e in members if e.id is not None])
    names = auth_repository.usernames(session, [row.signed_by_id for row in rows.values()])
    collected = {e.id: e.collected_at for e in members}
    return {
        evidence_id: SignoffState(names.get(row.signed_by_id, "?"), row.signed_at, collected[evidence_id], grace)
        for evidence_id, row in rows.items()
    }


def _window(engagement: Engagement, wanted: OccurrenceFilter) -> tuple[datetime, datetime]:
    """The engagement's window narrowed by the filter's period (both days included)."""
    start, end = scope.engagement_window(engagement)
    if wanted.period_from:
        start = max(start, datetime.combine(date.fromisoformat(wanted.period_from), time(), tzinfo=UTC))
    if wanted.period_to:
        day_after = date.fromisoformat(wanted.period_to) + timedelta(days=1)
        end = min(end, datetime.combine(day_after, time(), tzinfo=UTC))
    return start, end
