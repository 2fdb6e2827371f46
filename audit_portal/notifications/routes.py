"""A user's digest settings: their address and whether they want the weekly digest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_portal.authz import SignedIn
from audit_portal.db import SessionDep
from audit_portal.errors import InvalidInput
from audit_portal.notifications import service
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, principal: SignedIn) -> HTMLResponse:
    preference = service.preference_of(session, principal.account_id)
    return render(
        request,
        "pages/dashboard/notifications.html",
        {
            "preference": preference,
            "sections": service.SECTIONS_BY_ROLE.get(principal.role, ()),
            "titles": service.SECTION_TITLES,
            "saved": request.query_params.get("saved") == "1",
        },
    )


@router.post("/notifications", response_class=HTMLResponse, response_model=None)
def save_settings(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    email: Annotated[str, Form()] = "",
    digest: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        service.save_preference(session, actor=actor_of(request, principal), email=email, wants_digest=digest == "on")
    except InvalidInput as error:
        preference = service.preference_of(session, principal.account_id)
        return render(
            request,
            "pages/dashboard/notifications.html",
            {
                "preference": preference,
                "sections": service.SECTIONS_BY_ROLE.get(principal.role, ()),
                "titles": service.SECTION_TITLES,
                "error": error.in_language(request_language(request)),
                "email": email,
                "saved": False,
            },
            status_code=422,
        )
    return RedirectResponse("/notifications?saved=1", status_code=303)
