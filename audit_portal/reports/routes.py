"""The reports page: generated monthly compliance reports and a form to generate one now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.clock import utcnow
from audit_portal.db import SessionDep
from audit_portal.engagements import scope
from audit_portal.reports import service
from audit_portal.request_actor import actor_of
from audit_portal.store import StoreDep
from audit_portal.templating import render, request_language

router = APIRouter(tags=["reports"])

ReportReader = Annotated[Principal, Authorize("reports:read")]
ReportGenerator = Annotated[Principal, Authorize("reports:generate")]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep, principal: ReportReader) -> HTMLResponse:
    return render(
        request,
        "pages/reports/index.html",
        {
            "reports": service.list_reports(session, scope.scope_of(session, principal)),
            "may_generate": allowed("reports:generate", principal.role),
            "default_month": f"{service.previous_month(utcnow().date()):%Y-%m}",
        },
    )


@router.post("/reports/generate")
def generate(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    principal: ReportGenerator,
    month: Annotated[str, Form()],
) -> RedirectResponse:
    settings = request.app.state.settings
    report = service.generate_monthly_report(
        session,
        store,
        month=service.parse_month(month),
        max_bytes=settings.max_upload_bytes,
        actor=actor_of(request, principal),
        coverage_target=settings.coverage_target_percent,
        language=settings.report_language,
        reader_language=request_language(request),
    )
    return RedirectResponse(f"/reports?generated={report.id}", status_code=303)
