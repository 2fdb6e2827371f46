"""Engagements and the auditor's workspace.

Who sees what: an auditor sees only the engagements it is assigned to (the sign-in layer already
keeps it out outside its access window); it and admin see every engagement. An engagement the
reader may not see answers exactly like one that does not exist (404), so ids leak nothing.

The workspace table makes ONE coverage computation per render and a fixed number of grouped
queries for the counts of pending requests and open findings, whatever the number of controls.
Every review is an audit event; every auditor view of the workspace is one too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.auth.models import UserAccount
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import KIND_CLAUSE, KIND_CONTROL, Control
from audit_portal.coverage.service import (
    CONTROL_STATUSES,
    FRAMEWORK_2013,
    FRAMEWORK_2022,
    ControlCoverage,
    CoverageReport,
    RequirementCoverage,
    compute_coverage,
    coverage_as_of,
    restrict,
)
from audit_portal.coverage.service import STATUS_LABELS as COVERAGE_STATUS_LABELS
from audit_portal.engagements import occurrences, repository, scope
from audit_portal.engagements.models import (
    REVIEW_ACCEPTED,
    REVIEW_PENDING,
    REVIEW_REJECTED,
    Engagement,
    EvidenceReview,
)
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.findings import repository as finding_repository
from audit_portal.i18n import N_, Phrase, Sentences
from audit_portal.principals import Actor, Principal
from audit_portal.requests import repository as request_repository
from audit_portal.soa import repository as soa_repository
from audit_portal.soa.models import SoaEntry

MEASURES_FRAMEWORK = "annex2"
EDITIONS = {FRAMEWORK_2022: "ISO/IEC 27001:2022", FRAMEWORK_2013: "ISO/IEC 27001:2013"}
STATUS_LABELS = COVERAGE_STATUS_LABELS
# The workspace's coverage tables: Annex A controls, the ISMS clauses, the Annex 2 measures.
TABLE_KINDS = ("controls", "clauses", "measures")
# Worst first: sorting by status puts what needs the auditor's attention on top.
STATUS_ORDER = {
    s: i
    for i, s in enumerate(("failing", "missing", "stale", "partial", "covered", "no_requirement", "not_applicable"))
}
SORTS = {
    "ref": N_("Reference"),
    "status": N_("Status"),
    "evidence": N_("Evidence count"),
    "newest": N_("Newest evidence"),
}
NAME_MAX_LENGTH = 200
SCOPE_NOTE_MAX_LENGTH = 4000


# --- access: decided in engagements/scope.py, kept here under their old names for callers ---

visible_engagements = scope.visible_engagements
get_engagement = scope.get_engagement
may_see = scope.may_see


# --- administration --------------------------------------------------------------------------


@dataclass
class EngagementForm:
    name: str = ""
    framework_key: str = FRAMEWORK_2022
    period_start: str = ""
    period_end: str = ""
    auditor_ids: list[int] = field(default_factory=list)
    scope_refs: str = ""  # blank: the applicable controls of the SoA
    scope_note: str = ""


@dataclass(frozen=True)
class EngagementSummary:
    engagement: Engagement
    auditors: list[UserAccount]
    scope_size: int | None  # None: the SoA's applicable controls

    @property
    def edition(self) -> str:
        return EDITIONS.get(self.engagement.framework_key, self.engagement.framework_key)


def summaries(session: Session, engagements: list[Engagement]) -> list[EngagementSummary]:
    ids = [e.id for e in engagements]
    auditors = scope.auditors_of(session, ids)
    sizes = repository.scope_sizes(session, ids)
    return [EngagementSummary(e, auditors.get(e.id, []), sizes.get(e.id)) for e in engagements]


def auditor_choices(session: Session) -> list[UserAccount]:
    return list(auth_repository.auditor_accounts(session))


def form_for(session: Session, engagement: Engagement) -> EngagementForm:
    scope = repository.scope_control_ids(session, engagement.id)
    controls = catalogue_repository.controls_by_ids(session, scope)
    refs = sorted((c.position, c.ref) for c in controls.values())
    return EngagementForm(
        name=engagement.name,
        framework_key=engagement.framework_key,
        period_start=engagement.period_start.isoformat(),
        period_end=engagement.period_end.isoformat(),
        auditor_ids=repository.auditor_ids_of(session, [engagement.id])[engagement.id],
        scope_refs=", ".join(ref for _, ref in refs),
        scope_note=engagement.scope_note or "",
    )


@dataclass(frozen=True)
class CheckedEngagement:
    name: str
    framework_key: str
    period_start: date
    period_end: date
    auditor_ids: list[int]
    scope_control_ids: list[int]
    scope_refs: list[str]
    scope_note: str | None


def check_form(session: Session, form: EngagementForm) -> CheckedEngagement:
    """The form's values, or InvalidInput naming every field that is wrong."""
    errors: list[dict[str, Any]] = []
    name = form.name.strip()
    if not name:
        errors.append({"location": "name", "message": N_("Give the engagement a name.")})
    elif len(name) > NAME_MAX_LENGTH:
        errors.append(
            {
                "location": "name",
                "message": N_("Keep the name under %(most)s characters."),
                "values": {"most": NAME_MAX_LENGTH},
            }
        )
    if form.framework_key not in EDITIONS:
        errors.append({"location": "framework_key", "message": N_("Choose the 2022 or the 2013 edition.")})
    start = _parse_date(
        form.period_start, "period_start", N_("Give the first day of the period as YYYY-MM-DD."), errors
    )
    end = _parse_date(form.period_end, "period_end", N_("Give the last day of the period as YYYY-MM-DD."), errors)
    if start and end and end < start:
        errors.append({"location": "period_end", "message": N_("The period ends before it starts.")})
    auditors = {u.id for u in auth_repository.auditor_accounts(session)}
    unknown = [uid for uid in form.auditor_ids if uid not in auditors]
    if unknown:
        errors.append(
            {
                "location": "auditor_ids",
                "message": N_("Choose auditors from the list (accounts with the auditor role)."),
            }
        )
    refs = [ref.strip() for ref in form.scope_refs.replace("\n", ",").split(",") if ref.strip()]
    scope_ids: list[int] = []
    if refs and form.framework_key in EDITIONS:
        found = catalogue_repository.controls_by_refs(session, [(form.framework_key, ref) for ref in refs])
        missing = [ref for ref in refs if (form.framework_key, ref) not in found]
        if missing:
            errors.append(
                {
                    "location": "scope_refs",
                    "message": N_("%(edition)s has no control %(refs)s."),
                    "values": {"edition": EDITIONS[form.framework_key], "refs": ", ".join(missing)},
                }
            )
        scope_ids = [found[(form.framework_key, ref)].id for ref in refs if (form.framework_key, ref) in found]
    note = form.scope_note.strip() or None
    if note and len(note) > SCOPE_NOTE_MAX_LENGTH:
        errors.append(
            {
                "location": "scope_note",
                "message": N_("Keep the scope note under %(most)s characters."),
                "values": {"most": SCOPE_NOTE_MAX_LENGTH},
            }
        )
    if errors:
        raise InvalidInput(
            N_("The engagement was not saved: %(reasons)s"), values={"reasons": Sentences(errors)}, errors=errors
        )
    assert start and end
    return CheckedEngagement(name, form.framework_key, start, end, sorted(set(form.auditor_ids)), scope_ids, refs, note)


def _parse_date(value: str, location: str, message: str, errors: list[dict[str, Any]]) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append({"location": location, "message": message})
        return None


def create_engagement(session: Session, *, form: EngagementForm, actor: Actor) -> Engagement:
    principal = actor.principal
    checked = check_form(session, form)
    engagement = repository.add(
        session,
        Engagement(
            name=checked.name,
            framework_key=checked.framework_key,
            period_start=checked.period_start,
            period_end=checked.period_end,
            scope_note=checked.scope_note,
            created_at=clock.utcnow(),
            created_by=principal.username,
        ),
    )
    repository.replace_auditors(session, engagement.id, checked.auditor_ids)
    repository.replace_scope(session, engagement.id, checked.scope_control_ids)
    record_event(
        session,
        actor=actor,
        action="engagement.create",
        object_type="engagement",
        object_id=engagement.id or "",
        detail=_audit_detail(checked),
    )
    return engagement


def update_engagement(
    session: Session,
    *,
    engagement_id: int,
    form: EngagementForm,
    actor: Actor,
) -> Engagement:
    principal = actor.principal
    engagement = get_engagement(session, principal, engagement_id)
    before = form_for(session, engagement)
    checked = check_form(session, form)
    engagement.name = checked.name
    engagement.framework_key = checked.framework_key
    engagement.period_start = checked.period_start
    engagement.period_end = checked.period_end
    engagement.scope_note = checked.scope_note
    session.add(engagement)
    repository.replace_auditors(session, engagement_id, checked.auditor_ids)
    repository.replace_scope(session, engagement_id, checked.scope_control_ids)
    record_event(
        session,
        actor=actor,
        action="engagement.update",
        object_type="engagement",
        object_id=engagement_id,
        detail={
            "before": {
                "name": before.name,
                "framework_key": before.framework_key,
                "period": [before.period_start, before.period_end],
                "auditors": before.auditor_ids,
                "scope": before.scope_refs,
            },
            "after": _audit_detail(checked),
        },
    )
    return engagement


def _audit_detail(checked: CheckedEngagement) -> dict[str, object]:
    return {
        "name": checked.name,
        "framework_key": checked.framework_key,
        "period": [checked.period_start.isoformat(), checked.period_end.isoformat()],
        "auditors": checked.auditor_ids,
        "scope": ", ".join(checked.scope_refs) or "SoA applicable controls",
    }


# --- the workspace table --------------------------------------------------------------------


@dataclass(frozen=True)
class TableQuery:
    status: str = ""
    theme: str = ""
    q: str = ""
    sort: str = "ref"
    direction: str = "asc"

    def normalised(self) -> TableQuery:
        return TableQuery(
            status=self.status if self.status in CONTROL_STATUSES else "",
            theme=self.theme.strip(),
            q=self.q.strip()[:100],
            sort=self.sort if self.sort in SORTS else "ref",
            direction="desc" if self.direction == "desc" else "asc",
        )

    def params(self, **changes: str) -> dict[str, str]:
        values = {
            "status": self.status,
            "theme": self.theme,
            "q": self.q,
            "sort": self.sort,
            "direction": self.direction,
            **changes,
        }
        return {
            k: v
            for k, v in values.items()
            if v and not (k == "sort" and v == "ref") and not (k == "direction" and v == "asc")
        }


@dataclass(frozen=True)
class ControlRow:
    coverage: ControlCoverage
    theme_title: str
    pending_requests: int
    open_findings: int

    @property
    def status_label(self) -> Phrase:
        # Said with the ``said`` filter: ``_()`` called in the table's row loop made Jinja copy
        # the whole render context for every row.
        return Phrase(STATUS_LABELS.get(self.coverage.status, self.coverage.status))


@dataclass(frozen=True)
class WorkspaceTable:
    engagement: Engagement
    kind: str  # controls | measures
    framework_key: str
    report: CoverageReport
    rows: list[ControlRow]
    total: int
    themes: list[tuple[str, str]]
    query: TableQuery
    status_counts: dict[str, int]


def workspace_table(session: Session, engagement: Engagement, *, kind: str, query: TableQuery) -> WorkspaceTable:
    """The coverage table of the engagement's Annex A controls (``kind="controls"``), its ISMS
    clauses (``kind="clauses"``) or the Annex 2 measures (``kind="measures"``), filtered and sorted.
    The figures come from :func:`coverage_as_of` for the engagement's period as of today (capped
    at the period's end), the same function every other page uses."""
    query = query.normalised()
    framework_key = MEASURES_FRAMEWORK if kind == "measures" else engagement.framework_key
    scope = repository.scope_control_ids(session, engagement.id) if kind == "controls" else set()
    report = coverage_as_of(
        session,
        framework_key,
        as_of=clock.utcnow().date(),
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
        kind=KIND_CLAUSE if kind == "clauses" else KIND_CONTROL,
    )
    if scope:
        report = restrict(report, scope)
    requests_by_control, requests_by_requirement = request_repository.pending_request_counts(session, engagement.id)
    finding_ids: dict[int, set[int]] = defaultdict(set)
    for control_id, finding_id in finding_repository.open_finding_links(session, engagement.id):
        finding_ids[control_id].add(finding_id)
    themes = [
        (g.key, g.title)
        for g in catalogue_repository.groups_in_order(
            session, framework_key, kind=KIND_CLAUSE if kind == "clauses" else KIND_CONTROL
        )
    ]
    theme_titles = dict(themes)
    rows = []
    for control in report.controls:
        failing = {fid for r in control.requirements for fid in r.failing_finding_ids}
        requirement_ids = {r.requirement_id for r in control.requirements}
        rows.append(
            ControlRow(
                coverage=control,
                theme_title=theme_titles.get(control.group_key, control.group_key),
                pending_requests=requests_by_control.get(control.control_id, 0)
                + sum(requests_by_requirement.get(rid, 0) for rid in requirement_ids),
                open_findings=len(finding_ids.get(control.control_id, set()) | failing),
            )
        )
    return WorkspaceTable(
        engagement=engagement,
        kind=kind,
        framework_key=framework_key,
        report=report,
        rows=_sorted(_filtered(rows, query), query),
        total=len(rows),
        themes=themes,
        query=query,
        status_counts=report.counts,
    )


def _filtered(rows: list[ControlRow], query: TableQuery) -> list[ControlRow]:
    needle = query.q.lower()
    return [
        row
        for row in rows
        if (not query.status or row.coverage.status == query.status)
        and (not query.theme or row.coverage.group_key == query.theme)
        and (not needle or needle in row.coverage.ref.lower() or needle in row.coverage.title.lower())
    ]


def _sorted(rows: list[ControlRow], query: TableQuery) -> list[ControlRow]:
    """Rows in catalogue order, then stably by the chosen key."""
    reverse = query.direction == "desc"
    if query.sort == "status":
        return sorted(rows, key=lambda r: STATUS_ORDER.get(r.coverage.status, 99), reverse=reverse)
    if query.sort == "evidence":
        return sorted(rows, key=lambda r: r.coverage.evidence_count, reverse=reverse)
    if query.sort == "newest":
        oldest = datetime.min.replace(tzinfo=UTC)
        return sorted(rows, key=lambda r: r.coverage.newest_at or oldest, reverse=reverse)
    return list(reversed(rows)) if reverse else rows


def record_view(
    session: Session,
    *,
    actor: Actor,
    engagement: Engagement,
    what: str,
    object_id: str,
) -> None:
    """Auditors' views are audit events (DESIGN: every access by an auditor)."""
    scope.record_access(
        session,
        actor=actor,
        action=f"engagement.view.{what}",
        object_type="engagement",
        object_id=f"{engagement.id}:{object_id}" if object_id else str(engagement.id),
    )


# --- the control page -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryItem:
    evidence: Evidence
    review: EvidenceReview | None
    is_newest: bool

    @property
    def review_status(self) -> str:
        return self.review.status if self.review else REVIEW_PENDING


@dataclass(frozen=True)
class RequirementSection:
    coverage: RequirementCoverage
    newest: list[occurrences.OccurrenceItem]  # the newest occurrence in full
    history: occurrences.History  # one page of occurrences, newest first


@dataclass(frozen=True)
class ControlPage:
    engagement: Engagement
    control: Control
    coverage: ControlCoverage
    sections: list[RequirementSection]
    direct_evidence: list[HistoryItem]  # linked to the control itself, newest page only
    direct_more: bool  # more items are linked to the control itself than shown
    mapped_onto: list[Control]  # measures (and controls) that implement this control
    maps_to: list[Control]  # controls this measure implements
    soa: list[tuple[Control, SoaEntry | None]]
    theme_title: str
    in_scope: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.coverage.status, self.coverage.status)

    @property
    def requirement_ids(self) -> set[int]:
        return {s.coverage.requirement_id for s in self.sections}


def find_control(session: Session, engagement: Engagement, ref: str) -> Control:
    """A control of the engagement's edition or an Annex 2 measure, by its ref."""
    control = catalogue_repository.live_control_by_ref(session, [engagement.framework_key, MEASURES_FRAMEWORK], ref)
    if control is None:
        raise NotFound(
            N_("%(edition)s has no control or measure '%(ref)s'."),
            values={"edition": EDITIONS.get(engagement.framework_key, engagement.framework_key), "ref": ref},
        )
    return control


def control_page(
    session: Session,
    engagement: Engagement,
    ref: str,
    wanted: dict[int, occurrences.OccurrenceFilter] | None = None,
) -> ControlPage:
    """The control page: per requirement the newest occurrence in full and one page of the
    occurrence history (filtered and paged by ``wanted``, per requirement id)."""
    control = find_control(session, engagement, ref)
    report = compute_coverage(
        session,
        framework_key=control.framework_key,
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
        control_ids={control.id},
        kind=control.kind,
    )
    coverage = report.controls[0]
    start, end = scope.engagement_window(engagement)
    direct = list(
        evidence_repository.evidence_linked_to_control(session, control.id, start, end, limit=occurrences.PAGE_SIZE + 1)
    )
    reviews = repository.reviews_for(session, engagement.id, {e.id for e in direct})
    wanted = wanted or {}
    sections = [
        RequirementSection(
            coverage=req,
            newest=occurrences.newest(session, engagement, req.requirement_id, req.newest_evidence_ids),
            history=occurrences.history(
                session,
                engagement,
                req.requirement_id,
                wanted.get(req.requirement_id, occurrences.OccurrenceFilter()),
            ),
        )
        for req in coverage.requirements
    ]
    onto, to = catalogue_repository.mapped_controls(session, control.id)
    scope_ids = repository.scope_control_ids(session, engagement.id)
    groups = catalogue_repository.groups_of(session, control.framework_key)
    return ControlPage(
        engagement=engagement,
        control=control,
        coverage=coverage,
        sections=sections,
        direct_evidence=[HistoryItem(e, reviews.get(e.id), False) for e in direct[: occurrences.PAGE_SIZE]],
        direct_more=len(direct) > occurrences.PAGE_SIZE,
        mapped_onto=onto,
        maps_to=to,
        soa=_soa_for(session, control, to),
        theme_title=groups[control.group_key].title if control.group_key in groups else control.group_key,
        in_scope=not scope_ids or control.id in scope_ids or control.framework_key == MEASURES_FRAMEWORK,
    )


def _soa_for(session: Session, control: Control, maps_to: list[Control]) -> list[tuple[Control, SoaEntry | None]]:
    """The SoA entries that govern the control: its own (2022), its successors' (2013), or those of
    the 2022 controls a measure implements."""
    if control.framework_key == FRAMEWORK_2022:
        targets = [control]
    elif control.framework_key == FRAMEWORK_2013:
        targets = catalogue_repository.successors(session, control.id)
    else:
        targets = [c for c in maps_to if c.framework_key == FRAMEWORK_2022]
    entries = soa_repository.entries_for(session, [c.id for c in targets])
    return [(c, entries.get(c.id)) for c in targets]


# --- review ---------------------------------------------------------------------------------

DECISIONS = {"accept": REVIEW_ACCEPTED, "reject": REVIEW_REJECTED}
COMMENT_MAX_LENGTH = 4000


def review_evidence(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    evidence_id: int,
    decision: str,
    comment: str | None,
) -> tuple[Evidence, EvidenceReview]:
    """Accept or reject one evidence item for the engagement. A rejection needs a comment (the
    client must know what to fix); a rejected item stops counting for coverage at once."""
    principal = actor.principal
    engagement = get_engagement(session, principal, engagement_id)
    evidence = _evidence_of_period(session, engagement, evidence_id)
    status = DECISIONS.get((decision or "").strip().lower())
    note = (comment or "").strip() or None
    errors: list[dict[str, Any]] = []
    if status is None:
        errors.append({"location": "decision", "message": N_("Choose accept or reject.")})
    if status == REVIEW_REJECTED and not note:
        errors.append({"location": "comment", "message": N_("Say why the evidence is rejected.")})
    if note and len(note) > COMMENT_MAX_LENGTH:
        errors.append(
            {
                "location": "comment",
                "message": N_("Keep the comment under %(most)s characters."),
                "values": {"most": COMMENT_MAX_LENGTH},
            }
        )
    if errors:
        raise InvalidInput("%(reasons)s", values={"reasons": Sentences(errors)}, errors=errors)
    assert status is not None  # no decision raised above
    review = repository.get_review(session, engagement.id, evidence_id)
    before = {"status": review.status, "comment": review.comment} if review else {"status": REVIEW_PENDING}
    if review is None:
        review = EvidenceReview(
            engagement_id=engagement.id,
            evidence_id=evidence_id,
            status=status,
            reviewed_at=clock.utcnow(),
        )
    review.status = status
    review.comment = note
    review.reviewer_id = principal.user_id
    review.reviewed_at = clock.utcnow()
    repository.save_review(session, review)
    record_event(
        session,
        actor=actor,
        action=f"evidence.review.{status}",
        object_type="evidence",
        object_id=evidence_id,
        detail={
            "engagement": engagement.id,
            "before": before,
            "after": {"status": status, "comment": note},
        },
    )
    return evidence, review


def _evidence_of_period(session: Session, engagement: Engagement, evidence_id: int) -> Evidence:
    """An evidence item collected within the engagement's period; anything else is reviewed in
    no engagement and answers 404 (an auditor sees nothing outside their periods)."""
    evidence = evidence_repository.get_evidence(session, evidence_id)
    start, end = scope.engagement_window(engagement)
    if evidence is None or not start <= clock.as_utc(evidence.collected_at) < end:
        raise scope.OutOfScope(
            N_("There is no evidence %(id)s in this engagement's period."), values={"id": evidence_id}
        )
    return evidence


def current_review(
    session: Session, *, principal: Principal, engagement_id: int, evidence_id: int
) -> tuple[Evidence, EvidenceReview | None]:
    """An evidence item and its review in the engagement (None when not reviewed yet)."""
    engagement = get_engagement(session, principal, engagement_id)
    evidence = _evidence_of_period(session, engagement, evidence_id)
    return evidence, repository.get_review(session, engagement.id, evidence_id)
