"""The coverage read API (``/api/v1/coverage``, ``/api/v1/engagements/{id}/...``): the numbers
the pages show, for other tools (a GRC system, a SIEM dashboard).

Every figure comes from :func:`coverage_as_of`, the function behind the dashboard, the trend,
the snapshots, the monthly report, the SoA and the engagement tables, so a tool reads exactly
what a person sees. Service tokens need the scope ``coverage:read``; signed-in people read as
their role allows. Errors are RFC 9457 problem JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import Session

from audit_portal import clock
from audit_portal.authz import Authorize, Principal
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import KIND_CLAUSE, KIND_CONTROL
from audit_portal.coverage.service import (
    CoverageReport,
    coverage_as_of,
    status_label,
)
from audit_portal.db import SessionDep
from audit_portal.engagements import scope
from audit_portal.engagements import service as engagements
from audit_portal.errors import Forbidden, InvalidInput, NotFound

SCOPE = "coverage:read"
router = APIRouter(prefix="/api/v1", tags=["coverage"])
PROBLEM = {"content": {"application/problem+json": {}}, "description": "RFC 9457 problem JSON"}
ERRORS: dict[int | str, dict[str, Any]] = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 422: PROBLEM}


def require_scope(principal: Principal) -> Principal:
    """A service token reads only when it carries the ``coverage:read`` scope."""
    if principal.is_token and SCOPE not in principal.scopes:
        raise Forbidden(f"This token lacks the scope {SCOPE!r}.")
    return principal


def _reader(principal: Annotated[Principal, Authorize(SCOPE)]) -> Principal:
    return require_scope(principal)


CoverageReader = Annotated[Principal, Depends(_reader)]


class SwitchedOffOut(BaseModel):
    key: str
    title: str
    via_measure: str | None
    reason: str
    switched_off_by: str
    switched_off_at: datetime


class RequirementOut(BaseModel):
    key: str
    title: str
    via_measure: str | None
    status: str
    status_label: str
    reason: str
    newest_evidence_at: datetime | None
    evidence_count: int


class ControlOut(BaseModel):
    ref: str
    title: str
    group: str
    status: str
    status_label: str
    reason: str
    requirements: list[RequirementOut]
    switched_off: list[SwitchedOffOut]


class CoverageOut(BaseModel):
    framework: str
    part: Literal["controls", "clauses"]
    period_start: date
    period_end: date
    as_of: date
    engagement_id: int | None
    covered: int
    applicable: int
    percent: float
    counts: dict[str, int]
    controls: list[ControlOut]


class FindingOut(BaseModel):
    id: int
    title: str
    category: str | None
    severity: str
    status: str
    status_label: str
    owner: str | None
    corrective_action: str | None
    due_date: date | None
    controls: list[str]


class RequestOut(BaseModel):
    id: int
    subject: str
    question: str
    state: str
    state_label: str
    due_date: date
    overdue: bool
    evidence_ids: list[int]


def coverage_out(report: CoverageReport, engagement_id: int | None) -> CoverageOut:
    return CoverageOut(
        framework=report.framework_key,
        part="clauses" if report.kind == KIND_CLAUSE else "controls",
        period_start=report.period_start,
        period_end=report.period_end,
        as_of=report.as_of,
        engagement_id=engagement_id,
        covered=report.covered,
        applicable=report.applicable,
        percent=report.percent,
        counts=dict(report.counts),
        controls=[
            ControlOut(
                ref=c.ref,
                title=c.title,
                group=c.group_key,
                status=c.status,
                status_label=status_label(c.status),
                reason=c.reason.english,
                requirements=[
                    RequirementOut(
                        key=r.key,
                        title=r.title,
                        via_measure=r.via_measure,
                        status=r.status,
                        status_label=status_label(r.status),
                        reason=r.reason.english,
                        newest_evidence_at=r.newest_at,
                        evidence_count=r.evidence_count,
                    )
                    for r in c.requirements
                ],
                switched_off=[
                    SwitchedOffOut(**{k: getattr(o, k) for k in SwitchedOffOut.model_fields}) for o in c.switched_off
                ],
            )
            for c in report.controls
        ],
    )


def framework_coverage(
    session: Session, principal: Principal, *, framework: str, as_of: date | None, part: str, engagement_id: int | None
) -> CoverageOut:
    if catalogue_repository.get_framework(session, framework) is None:
        raise NotFound(f"There is no framework {framework!r}.")
    today = clock.utcnow().date()
    moment = as_of or today
    if moment > today:
        raise InvalidInput(f"as_of {moment.isoformat()} is in the future; coverage is known up to today.")
    kind = KIND_CLAUSE if part == "clauses" else KIND_CONTROL
    reader = scope.scope_of(session, principal)
    if engagement_id is None and not reader.unrestricted:
        # An auditor reads what their dashboard shows: their (newest) engagement, never the
        # organisation's certification year.
        default = reader.default_engagement()
        if default is None:
            raise scope.OutOfScope("You are not assigned to an engagement, so there is nothing to show.")
        engagement_id = default.id
    if engagement_id is None:
        report = coverage_as_of(session, framework, as_of=moment, kind=kind)
    else:
        engagement = engagements.get_engagement(session, principal, engagement_id)
        report = coverage_as_of(
            session,
            framework,
            as_of=moment,
            period_start=engagement.period_start,
            period_end=engagement.period_end,
            engagement_id=engagement.id,
            kind=kind,
        )
    return coverage_out(report, engagement_id)


@router.get("/coverage/{framework}", response_model=CoverageOut, responses=ERRORS)
def read_coverage(
    session: SessionDep,
    principal: CoverageReader,
    framework: str,
    as_of: Annotated[date | None, Query(description="The moment (YYYY-MM-DD); default today.")] = None,
    part: Annotated[
        Literal["controls", "clauses"], Query(description="Annex A controls (or measures), or the ISMS clauses 4-10.")
    ] = "controls",
    engagement: Annotated[
        int | None, Query(description="An engagement: its period and reviews instead of the certification year.")
    ] = None,
) -> CoverageOut:
    """A framework's coverage as of a moment: the figure and each control's (or clause's) status
    with its reason, exactly as the dashboard, the SoA and the engagement tables compute it.
    Without ``engagement`` the period is the certification year ending on ``as_of``."""
    return framework_coverage(session, principal, framework=framework, as_of=as_of, part=part, engagement_id=engagement)


@router.get("/engagements/{engagement_id}/findings", response_model=list[FindingOut], responses=ERRORS)
def read_findings(session: SessionDep, principal: CoverageReader, engagement_id: int) -> list[FindingOut]:
    """The engagement's auditor findings, as its findings page lists them."""
    from audit_portal.findings import service as findings

    _, auditor, _ = findings.engagement_findings(session, principal, engagement_id)
    return [
        FindingOut(
            id=v.finding.id,
            title=v.finding.title,
            category=v.finding.category,
            severity=v.finding.severity,
            status=v.finding.status,
            status_label=v.status_label,
            owner=v.finding.owner,
            corrective_action=v.finding.corrective_action,
            due_date=v.finding.due_date,
            controls=[c.ref for c in v.controls],
        )
        for v in auditor
    ]


@router.get("/engagements/{engagement_id}/requests", response_model=list[RequestOut], responses=ERRORS)
def read_requests(session: SessionDep, principal: CoverageReader, engagement_id: int) -> list[RequestOut]:
    """The engagement's evidence requests in every state, as its requests page lists them."""
    from audit_portal.requests import service as requests

    _, views = requests.queue(session, principal, engagement_id)
    return [
        RequestOut(
            id=v.request.id,
            subject=v.subject,
            question=v.request.question,
            state=v.request.state,
            state_label=v.state_label,
            due_date=v.request.due_date,
            overdue=v.overdue,
            evidence_ids=[e.id for e in v.evidence],
        )
        for v in views
    ]
