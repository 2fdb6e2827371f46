"""The engagement's read-only view of the audit log: the SoA's change history and the events
about the evidence of the period (audit_portal.engagements.trail)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from audit_portal.authz import Authorize, Principal
from audit_portal.db import SessionDep
from audit_portal.engagements import service, trail
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter()

Reader = Annotated[Principal, Authorize("engagements:read")]


def _before(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@router.get("/engagements/{engagement_id}/soa-history", response_class=HTMLResponse, response_model=None)
def soa_history(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, before: str = ""
) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    page = trail.soa_history(session, engagement, before=_before(before), language=request_language(request))
    service.record_view(
        session, actor=actor_of(request, principal), engagement=engagement, what="soa_history", object_id=""
    )
    return render(
        request,
        "pages/engagements/trail.html",
        {
            "engagement": engagement,
            "tab": "soa-history",
            "page": page,
            "soa": True,
            "base": f"/engagements/{engagement.id}/soa-history",
        },
        block="trail",
    )


@router.get("/engagements/{engagement_id}/audit-events", response_class=HTMLResponse, response_model=None)
def evidence_events(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, before: str = "", action: str = ""
) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    page = trail.evidence_events(
        session, engagement, before=_before(before), action=action, language=request_language(request)
    )
    service.record_view(
        session, actor=actor_of(request, principal), engagement=engagement, what="audit_events", object_id=""
    )
    return render(
        request,
        "pages/engagements/trail.html",
        {
            "engagement": engagement,
            "tab": "audit-events",
            "page": page,
            "soa": False,
            "base": f"/engagements/{engagement.id}/audit-events",
        },
        block="trail",
    )
