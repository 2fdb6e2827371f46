"""Samples: drawing one, the sample page with each item's test result and the conclusion, the
redraw check, and the sample sheet as XLSX."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.db import SessionDep
from audit_portal.engagements import sample_sheet, sampling, service
from audit_portal.engagements.models import Engagement
from audit_portal.forms import Refusal, see_other, submit_form
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter()

Reader = Annotated[Principal, Authorize("engagements:read")]
Sampler = Annotated[Principal, Authorize("samples:manage")]
Text = Annotated[str, Form()]
BASE = "/engagements/{engagement_id}/samples"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sizes(request: Request) -> dict[str, tuple[int, int]]:
    return request.app.state.settings.sample_sizes


@router.get(BASE, response_class=HTMLResponse, response_model=None)
def sample_list(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, subject: str = ""
) -> HTMLResponse:
    engagement, drawn = sampling.samples(session, principal, engagement_id)
    return _samples_page(request, principal, engagement, drawn, sampling.SampleForm(subject=subject), {})


def _samples_page(
    request: Request,
    principal: Principal,
    engagement: Engagement,
    drawn: list,
    form: sampling.SampleForm,
    errors: dict[str, str],
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/samples.html",
        {
            "engagement": engagement,
            "samples": drawn,
            "form": form,
            "errors": errors,
            "tab": "samples",
            "rules": sampling.rules_table(_sizes(request)),
            "can_sample": allowed("samples:manage", principal.role),
            **sampling.labels(),
        },
    )


@router.post(BASE, response_class=HTMLResponse, response_model=None)
def draw_sample(
    request: Request,
    session: SessionDep,
    principal: Sampler,
    engagement_id: int,
    subject: Text = "",
    method: Text = sampling.METHOD_RANDOM,
    size: Text = "",
    seed: Text = "",
    chosen: Text = "",
) -> Response:
    form = sampling.SampleForm(subject, method, size, seed, chosen)

    def change() -> Response:
        sample = sampling.draw(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            form=form,
            sizes=_sizes(request),
        )
        return see_other(f"/engagements/{engagement_id}/samples/{sample.id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement, drawn = sampling.samples(session, principal, engagement_id)
        return _samples_page(request, principal, engagement, drawn, form, refusal.by_field("subject"))

    return submit_form(request, change, refused)


@router.get(BASE + "/{sample_id}", response_class=HTMLResponse, response_model=None)
def sample_page(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, sample_id: int
) -> HTMLResponse:
    engagement, view = sampling.get_sample(session, principal, engagement_id, sample_id)
    service.record_view(
        session, actor=actor_of(request, principal), engagement=engagement, what="sample", object_id=str(sample_id)
    )
    return _sample_page(request, principal, engagement, view)


def _sample_page(
    request: Request,
    principal: Principal,
    engagement: Engagement,
    view: sampling.SampleView,
    *,
    verification: sampling.Verification | None = None,
    errors: dict[str, str] | None = None,
    failed_item: int | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/sample.html",
        {
            "engagement": engagement,
            "view": view,
            "verification": verification,
            "errors": errors or {},
            "failed_item": failed_item,
            "values": values or {},
            "tab": "samples",
            "can_sample": allowed("samples:manage", principal.role),
            "can_record_findings": allowed("findings:record", principal.role),
            **sampling.labels(),
        },
        block="verification",
    )


@router.post(BASE + "/{sample_id}/verify", response_class=HTMLResponse, response_model=None)
def verify_sample(
    request: Request, session: SessionDep, principal: Sampler, engagement_id: int, sample_id: int
) -> HTMLResponse:
    engagement, view, verification = sampling.verify(
        session, actor=actor_of(request, principal), engagement_id=engagement_id, sample_id=sample_id
    )
    return _sample_page(request, principal, engagement, view, verification=verification)


@router.post(BASE + "/{sample_id}/items/{item_id}/result", response_class=HTMLResponse, response_model=None)
def record_result(
    request: Request,
    session: SessionDep,
    principal: Sampler,
    engagement_id: int,
    sample_id: int,
    item_id: int,
    result: Text = "",
    note: Text = "",
) -> Response:
    def change() -> Response:
        sampling.record_result(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            sample_id=sample_id,
            item_id=item_id,
            result=result,
            note=note,
        )
        return see_other(f"/engagements/{engagement_id}/samples/{sample_id}#item-{item_id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement, view = sampling.get_sample(session, principal, engagement_id, sample_id)
        values = {"result": result, "note": note}
        return _sample_page(
            request, principal, engagement, view, errors=refusal.fields, failed_item=item_id, values=values
        )

    return submit_form(request, change, refused)


@router.post(BASE + "/{sample_id}/conclude", response_class=HTMLResponse, response_model=None)
def conclude(
    request: Request,
    session: SessionDep,
    principal: Sampler,
    engagement_id: int,
    sample_id: int,
    conclusion: Text = "",
    conclusion_note: Text = "",
) -> Response:
    def change() -> Response:
        sampling.conclude(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            sample_id=sample_id,
            conclusion=conclusion,
            note=conclusion_note,
        )
        return see_other(f"/engagements/{engagement_id}/samples/{sample_id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement, view = sampling.get_sample(session, principal, engagement_id, sample_id)
        values = {"conclusion": conclusion, "conclusion_note": conclusion_note}
        return _sample_page(request, principal, engagement, view, errors=refusal.fields, values=values)

    return submit_form(request, change, refused)


@router.get(BASE + "/{sample_id}/sheet.xlsx", response_model=None)
def sample_sheet_xlsx(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, sample_id: int
) -> Response:
    engagement, view = sampling.get_sample(session, principal, engagement_id, sample_id)
    return Response(
        sample_sheet.xlsx_bytes(engagement, view, request.app.state.settings.base_url, request_language(request)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{sample_sheet.filename(view)}"'},
    )
