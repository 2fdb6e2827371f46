"""Engagements (admin), the auditor's workspace (controls and measures tables, control page),
evidence review; samples are in sample_routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.db import SessionDep
from audit_portal.engagements import occurrences, scope, service
from audit_portal.engagements.models import REVIEW_ACCEPTED, REVIEW_PENDING, REVIEW_REJECTED, EvidenceReview
from audit_portal.evidence.models import Evidence
from audit_portal.findings import service as findings
from audit_portal.forms import Refusal, see_other, submit_form
from audit_portal.i18n import N_
from audit_portal.request_actor import actor_of
from audit_portal.requests import service as requests
from audit_portal.templating import is_fragment_request, render

router = APIRouter()

Reader = Annotated[Principal, Authorize("engagements:read")]
Manager = Annotated[Principal, Authorize("engagements:manage")]
Reviewer = Annotated[Principal, Authorize("evidence:review")]
Text = Annotated[str, Form()]


def _permissions(principal: Principal) -> dict[str, bool]:
    return {
        "can_manage": allowed("engagements:manage", principal.role),
        "can_review": allowed("evidence:review", principal.role),
        "can_ask": allowed("requests:create", principal.role),
        "can_answer": allowed("requests:answer", principal.role),
        "can_record_findings": allowed("findings:record", principal.role),
        "can_manage_findings": allowed("findings:manage", principal.role),
        "can_sample": allowed("samples:manage", principal.role),
    }


# --- engagements ------------------------------------------------------------------------------


@router.get("/engagements", response_class=HTMLResponse, response_model=None)
def engagement_list(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    rows = service.summaries(session, service.visible_engagements(session, principal))
    return render(request, "pages/engagements/index.html", {"rows": rows, **_permissions(principal)})


@router.get("/engagements/new", response_class=HTMLResponse, response_model=None)
def new_form(request: Request, session: SessionDep, principal: Manager) -> HTMLResponse:
    return _engagement_form(request, session, None, service.EngagementForm(), {})


def engagement_form(
    name: Text = "",
    framework_key: Text = service.FRAMEWORK_2022,
    period_start: Text = "",
    period_end: Text = "",
    auditor_ids: Annotated[list[int] | None, Form()] = None,
    scope_refs: Text = "",
    scope_note: Text = "",
) -> service.EngagementForm:
    """The engagement form's fields, as the create and edit forms post them."""
    return service.EngagementForm(
        name, framework_key, period_start, period_end, auditor_ids or [], scope_refs, scope_note
    )


EngagementFormDep = Annotated[service.EngagementForm, Depends(engagement_form)]


@router.post("/engagements/new", response_class=HTMLResponse, response_model=None)
def create(
    request: Request,
    session: SessionDep,
    principal: Manager,
    form: EngagementFormDep,
) -> Response:
    def change() -> Response:
        engagement = service.create_engagement(session, form=form, actor=actor_of(request, principal))
        return see_other(f"/engagements/{engagement.id}/controls")

    return submit_form(request, change, lambda refusal: _engagement_form(request, session, None, form, refusal.fields))


@router.get("/engagements/{engagement_id}/edit", response_class=HTMLResponse, response_model=None)
def edit_form(request: Request, session: SessionDep, principal: Manager, engagement_id: int) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    return _engagement_form(request, session, engagement_id, service.form_for(session, engagement), {})


@router.post("/engagements/{engagement_id}/edit", response_class=HTMLResponse, response_model=None)
def update(
    request: Request,
    session: SessionDep,
    principal: Manager,
    engagement_id: int,
    form: EngagementFormDep,
) -> Response:
    def change() -> Response:
        service.update_engagement(session, engagement_id=engagement_id, form=form, actor=actor_of(request, principal))
        return see_other(f"/engagements/{engagement_id}/controls")

    return submit_form(
        request, change, lambda refusal: _engagement_form(request, session, engagement_id, form, refusal.fields)
    )


def _engagement_form(
    request: Request,
    session,
    engagement_id: int | None,
    form: service.EngagementForm,
    errors: dict[str, str],
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/form.html",
        {
            "engagement_id": engagement_id,
            "form": form,
            "errors": errors,
            "editions": service.EDITIONS,
            "auditors": service.auditor_choices(session),
        },
        block="form",
    )


# --- the workspace ----------------------------------------------------------------------------


@router.get("/engagements/{engagement_id}", response_class=RedirectResponse, response_model=None)
def engagement_home(session: SessionDep, principal: Reader, engagement_id: int) -> RedirectResponse:
    service.get_engagement(session, principal, engagement_id)
    return RedirectResponse(f"/engagements/{engagement_id}/controls", status_code=303)


def table_query(
    status: str = "", theme: str = "", q: str = "", sort: str = "ref", direction: str = "asc"
) -> service.TableQuery:
    """Filter, search and sort of a coverage table, from the query string."""
    return service.TableQuery(status, theme, q, sort, direction)


TableQueryDep = Annotated[service.TableQuery, Depends(table_query)]


@router.get("/engagements/{engagement_id}/controls", response_class=HTMLResponse, response_model=None)
def controls_table(
    request: Request,
    session: SessionDep,
    principal: Reader,
    engagement_id: int,
    query: TableQueryDep,
) -> HTMLResponse:
    return _table(request, session, principal, engagement_id, "controls", query)


@router.get("/engagements/{engagement_id}/clauses", response_class=HTMLResponse, response_model=None)
def clauses_table(
    request: Request,
    session: SessionDep,
    principal: Reader,
    engagement_id: int,
    query: TableQueryDep,
) -> HTMLResponse:
    """The ISMS clauses 4.1 to 10.2 of the engagement's edition, with their own coverage."""
    return _table(request, session, principal, engagement_id, "clauses", query)


@router.get("/engagements/{engagement_id}/measures", response_class=HTMLResponse, response_model=None)
def measures_table(
    request: Request,
    session: SessionDep,
    principal: Reader,
    engagement_id: int,
    query: TableQueryDep,
) -> HTMLResponse:
    return _table(request, session, principal, engagement_id, "measures", query)


def _table(
    request: Request,
    session,
    principal: Principal,
    engagement_id: int,
    kind: str,
    query: service.TableQuery,
) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    table = service.workspace_table(session, engagement, kind=kind, query=query)
    if not is_fragment_request(request):
        service.record_view(
            session,
            actor=actor_of(request, principal),
            engagement=engagement,
            what=kind,
            object_id="",
        )
    return render(
        request,
        "pages/engagements/table.html",
        {
            "table": table,
            "engagement": engagement,
            "tab": kind,
            "status_labels": service.STATUS_LABELS,
            "sorts": service.SORTS,
            "edition": service.EDITIONS.get(engagement.framework_key, "Annex 2"),
            **_permissions(principal),
        },
        block="results",
    )


@router.get("/engagements/{engagement_id}/controls/{ref}", response_class=HTMLResponse, response_model=None)
def control_page(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, ref: str
) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    page = service.control_page(session, engagement, ref)
    service.record_view(
        session,
        actor=actor_of(request, principal),
        engagement=engagement,
        what="control",
        object_id=page.control.ref,
    )
    auditor_findings, collector_findings = findings.for_control(
        session, engagement, page.control, scope.for_engagement(principal, engagement)
    )
    return render(
        request,
        "pages/engagements/control.html",
        {
            "page": page,
            "engagement": engagement,
            "tab": "measures"
            if page.control.framework_key == service.MEASURES_FRAMEWORK
            else ("clauses" if page.control.is_clause else "controls"),
            "status_labels": service.STATUS_LABELS,
            "requests": requests.for_control(session, engagement, page.control, page.requirement_ids),
            "auditor_findings": auditor_findings,
            "collector_findings": collector_findings,
            "run_filters": occurrences.RUN_FILTERS,
            **_permissions(principal),
            **_review_labels(),
        },
    )


def _review_labels() -> dict[str, object]:
    return {
        "review_labels": {
            REVIEW_PENDING: N_("Not reviewed"),
            REVIEW_ACCEPTED: N_("Accepted"),
            REVIEW_REJECTED: N_("Rejected"),
        }
    }


@router.post(
    "/engagements/{engagement_id}/evidence/{evidence_id}/review",
    response_class=HTMLResponse,
    response_model=None,
)
def review(
    request: Request,
    session: SessionDep,
    principal: Reviewer,
    engagement_id: int,
    evidence_id: int,
    decision: Text = "",
    comment: Text = "",
    back: Text = "",
    newest: Text = "",
) -> Response:
    def change() -> Response:
        evidence, saved = service.review_evidence(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            evidence_id=evidence_id,
            decision=decision,
            comment=comment,
        )
        if not is_fragment_request(request):
            own_page = back.startswith(f"/engagements/{engagement_id}/")
            return see_other(back if own_page else f"/engagements/{engagement_id}/controls")
        return row(evidence, saved, error=None)

    def row(evidence: Evidence, saved: EvidenceReview | None, error: str | None) -> HTMLResponse:
        item = service.HistoryItem(evidence, saved, is_newest=newest == "1")
        context = {"item": item, "engagement_id": engagement_id, "can_review": True, "error": error}
        return render(
            request,
            "pages/engagements/_evidence_row.html",
            context | {"back": back, "comment": comment, **_review_labels()},
        )

    def refused(refusal: Refusal) -> HTMLResponse:
        evidence, saved = service.current_review(
            session, principal=principal, engagement_id=engagement_id, evidence_id=evidence_id
        )
        return row(evidence, saved, error=refusal.sentence())

    if not is_fragment_request(request):
        return change()  # a whole page has no row to show the reason in: the error page says it
    return submit_form(request, change, refused)


# Occurrence history and whole-occurrence review live in their own module.
from audit_portal.engagements.occurrence_routes import router as occurrence_router  # noqa: E402

router.include_router(occurrence_router)

# The SoA's change history and the audit events about the period's evidence, read-only.
from audit_portal.engagements.trail_routes import router as trail_router  # noqa: E402

router.include_router(trail_router)

# Samples, their test results and conclusion, and the sample sheet.
from audit_portal.engagements.sample_routes import router as sample_router  # noqa: E402

router.include_router(sample_router)
