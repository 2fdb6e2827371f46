"""Findings: per engagement (the auditor records, it and admin maintain the corrective action)
and the global list management reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from audit_portal.authz import Authorize, Principal, Role, allowed
from audit_portal.db import SessionDep
from audit_portal.engagements import sampling
from audit_portal.engagements import service as engagements
from audit_portal.findings import lifecycle, service
from audit_portal.findings.models import AUDITOR_CATEGORIES, SEVERITIES, STATUSES
from audit_portal.forms import Refusal, see_other, submit_form
from audit_portal.request_actor import actor_of
from audit_portal.templating import render

router = APIRouter()

Reader = Annotated[Principal, Authorize("findings:read")]
EngagementReader = Annotated[Principal, Authorize("engagements:read")]
Recorder = Annotated[Principal, Authorize("findings:record")]
Maintainer = Annotated[Principal, Authorize("findings:manage")]
Verifier = Annotated[Principal, Authorize("findings:verify")]
OptionalText = Annotated[str | None, Form()]


def _context(principal: Principal) -> dict[str, object]:
    return {
        "tab": "findings",
        "category_labels": service.CATEGORY_LABELS,
        "categories": AUDITOR_CATEGORIES,
        "severities": SEVERITIES,
        "statuses": STATUSES,
        "status_labels": service.STATUS_LABELS,
        "category_severity": service.CATEGORY_SEVERITY,
        "can_record_findings": allowed("findings:record", principal.role),
        "can_manage_findings": allowed("findings:manage", principal.role),
        "is_auditor": principal.role == Role.auditor,
    }


@router.get("/findings", response_class=HTMLResponse, response_model=None)
def all_findings(
    request: Request,
    session: SessionDep,
    principal: Reader,
    source: str = "",
    status: str = "",
    severity: str = "",
) -> HTMLResponse:
    rows = service.global_list(session, principal, source=source, status=status, severity=severity)
    return render(
        request,
        "pages/findings/index.html",
        {
            "rows": rows,
            "filters": {"source": source, "status": status, "severity": severity},
            **_context(principal),
        },
        block="results",
    )


@router.get("/engagements/{engagement_id}/findings", response_class=HTMLResponse, response_model=None)
def engagement_findings(
    request: Request, session: SessionDep, principal: EngagementReader, engagement_id: int
) -> HTMLResponse:
    engagement, auditor, collector = service.engagement_findings(session, principal, engagement_id)
    return render(
        request,
        "pages/engagements/findings.html",
        {
            "engagement": engagement,
            "auditor_findings": auditor,
            "collector_findings": collector,
            **_context(principal),
        },
    )


@router.get("/engagements/{engagement_id}/findings/new", response_class=HTMLResponse, response_model=None)
def new_form(
    request: Request,
    session: SessionDep,
    principal: Recorder,
    engagement_id: int,
    control: str = "",
    sample: int | None = None,
) -> HTMLResponse:
    """An empty form, or with ``sample`` the form pre-filled from that sample's exceptions."""
    engagement = engagements.get_engagement(session, principal, engagement_id)
    form = (
        sampling.finding_form(session, principal, engagement_id, sample)
        if sample is not None
        else service.FindingForm(control_refs=control)
    )
    return _form(request, principal, engagement, None, form, {}, sample_id=sample)


def _form(
    request: Request,
    principal: Principal,
    engagement,
    finding_id: int | None,
    form: service.FindingForm,
    errors: dict[str, str],
    sample_id: int | None = None,
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/finding_form.html",
        {
            "engagement": engagement,
            "finding_id": finding_id,
            "sample_id": sample_id,
            "form": form,
            "errors": errors,
            **_context(principal),
        },
        block="form",
    )


def submitted_fields(
    title: OptionalText = None,
    detail: OptionalText = None,
    category: OptionalText = None,
    severity: OptionalText = None,
    control_refs: OptionalText = None,
    owner: OptionalText = None,
    corrective_action: OptionalText = None,
    due_date: OptionalText = None,
    root_cause: OptionalText = None,
) -> dict[str, str | None]:
    """The finding form's fields as posted; a field the form did not show is None."""
    return {
        "title": title,
        "detail": detail,
        "category": category,
        "severity": severity,
        "control_refs": control_refs,
        "owner": owner,
        "corrective_action": corrective_action,
        "due_date": due_date,
        "root_cause": root_cause,
    }


SubmittedFields = Annotated[dict[str, str | None], Depends(submitted_fields)]


@router.post("/engagements/{engagement_id}/findings/new", response_class=HTMLResponse, response_model=None)
def create(
    request: Request,
    session: SessionDep,
    principal: Recorder,
    engagement_id: int,
    submitted: SubmittedFields,
    sample: Annotated[int | None, Form()] = None,
) -> Response:
    """Record a finding; with ``sample``, raised from that sample's exceptions and linked to them."""
    form = _overlay(service.FindingForm(), submitted)

    def change() -> Response:
        actor = actor_of(request, principal)
        if sample is None:
            service.create(session, actor=actor, engagement_id=engagement_id, form=form)
            return see_other(f"/engagements/{engagement_id}/findings")
        finding = sampling.raise_finding(session, actor=actor, engagement_id=engagement_id, sample_id=sample, form=form)
        return see_other(f"/engagements/{engagement_id}/findings/{finding.id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement = engagements.get_engagement(session, principal, engagement_id)
        return _form(request, principal, engagement, None, form, refusal.fields, sample_id=sample)

    return submit_form(request, change, refused)


@router.get(
    "/engagements/{engagement_id}/findings/{finding_id}",
    response_class=HTMLResponse,
    response_model=None,
)
def finding_page(
    request: Request,
    session: SessionDep,
    principal: EngagementReader,
    engagement_id: int,
    finding_id: int,
) -> HTMLResponse:
    return _finding_page(request, session, principal, engagement_id, finding_id, step="", errors={}, values={})


def _finding_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    engagement_id: int,
    finding_id: int,
    *,
    step: str,
    errors: dict[str, str],
    values: dict[str, str],
) -> HTMLResponse:
    engagement, view = service.get_finding(session, principal, engagement_id, finding_id)
    return render(
        request,
        "pages/engagements/finding.html",
        {
            "engagement": engagement,
            "view": view,
            "steps": lifecycle.next_steps(view.finding, principal),
            "decisions": lifecycle.decisions_for(view.finding),
            "decision_labels": lifecycle.DECISION_LABELS,
            "sample_items": sampling.samples_of_finding(session, finding_id),
            "failed_step": step,
            "errors": errors,
            "values": values,
            **_context(principal),
        },
    )


def _after_step(
    request: Request,
    session: SessionDep,
    principal: Principal,
    engagement_id: int,
    finding_id: int,
    step: str,
    values: dict[str, str],
    action: Callable[[], object],
) -> Response:
    def change() -> Response:
        action()
        return see_other(f"/engagements/{engagement_id}/findings/{finding_id}")

    return submit_form(
        request,
        change,
        lambda refusal: _finding_page(
            request, session, principal, engagement_id, finding_id, step=step, errors=refusal.fields, values=values
        ),
    )


@router.post(
    "/engagements/{engagement_id}/findings/{finding_id}/plan",
    response_class=HTMLResponse,
    response_model=None,
)
def plan(
    request: Request,
    session: SessionDep,
    principal: Maintainer,
    engagement_id: int,
    finding_id: int,
    owner: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    root_cause: Annotated[str, Form()] = "",
    corrective_action: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    submitted = lifecycle.Plan(
        owner=owner, due_date=due_date, root_cause=root_cause, corrective_action=corrective_action, note=note
    )
    return _after_step(
        request,
        session,
        principal,
        engagement_id,
        finding_id,
        "plan",
        vars(submitted),
        lambda: lifecycle.plan(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            finding_id=finding_id,
            plan=submitted,
        ),
    )


@router.post(
    "/engagements/{engagement_id}/findings/{finding_id}/remediate",
    response_class=HTMLResponse,
    response_model=None,
)
def remediate(
    request: Request,
    session: SessionDep,
    principal: Maintainer,
    engagement_id: int,
    finding_id: int,
    note: Annotated[str, Form()] = "",
    evidence_ids: Annotated[str, Form()] = "",
) -> Response:
    return _after_step(
        request,
        session,
        principal,
        engagement_id,
        finding_id,
        "remediate",
        {"note": note, "evidence_ids": evidence_ids},
        lambda: lifecycle.remediate(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            finding_id=finding_id,
            note=note,
            evidence_ids=[evidence_ids],
        ),
    )


@router.post(
    "/engagements/{engagement_id}/findings/{finding_id}/verify",
    response_class=HTMLResponse,
    response_model=None,
)
def verify(
    request: Request,
    session: SessionDep,
    principal: Verifier,
    engagement_id: int,
    finding_id: int,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    return _after_step(
        request,
        session,
        principal,
        engagement_id,
        finding_id,
        "verify",
        {"decision": decision, "note": note},
        lambda: lifecycle.verify(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            finding_id=finding_id,
            decision=decision,
            note=note,
        ),
    )


@router.get(
    "/engagements/{engagement_id}/findings/{finding_id}/edit",
    response_class=HTMLResponse,
    response_model=None,
)
def edit_form(
    request: Request,
    session: SessionDep,
    principal: Maintainer,
    engagement_id: int,
    finding_id: int,
) -> HTMLResponse:
    engagement, view = service.get_finding(session, principal, engagement_id, finding_id)
    return _form(request, principal, engagement, finding_id, service.form_for(view), {})


@router.post(
    "/engagements/{engagement_id}/findings/{finding_id}/edit",
    response_class=HTMLResponse,
    response_model=None,
)
def update(
    request: Request,
    session: SessionDep,
    principal: Maintainer,
    engagement_id: int,
    finding_id: int,
    submitted: SubmittedFields,
) -> Response:
    engagement, view = service.get_finding(session, principal, engagement_id, finding_id)
    # Fields the form does not show (the auditor's, for it and admin) keep their values.
    form = _overlay(service.form_for(view), submitted)

    def change() -> Response:
        actor = actor_of(request, principal)
        service.update(session, actor=actor, engagement_id=engagement_id, finding_id=finding_id, form=form)
        return see_other(f"/engagements/{engagement_id}/findings/{finding_id}")

    return submit_form(
        request, change, lambda refusal: _form(request, principal, engagement, finding_id, form, refusal.fields)
    )


def _overlay(form: service.FindingForm, submitted: dict[str, str | None]) -> service.FindingForm:
    for name, value in submitted.items():
        if value is not None:
            setattr(form, name, value)
    return form
