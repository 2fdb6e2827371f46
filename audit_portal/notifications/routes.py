"""A user's digest settings: their address and whether they want the weekly digest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from audit_portal.authz import SignedIn
from audit_portal.db import SessionDep
from audit_portal.forms import see_other, submit_form
from audit_portal.notifications import service
from audit_portal.principals import Principal
from audit_portal.request_actor import actor_of
from audit_portal.templating import render

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, principal: SignedIn) -> HTMLResponse:
    return _settings_page(request, session, principal, saved=request.query_params.get("saved") == "1")


def _settings_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    *,
    saved: bool = False,
    error: str = "",
    email: str = "",
) -> HTMLResponse:
    preference = service.preference_of(session, principal.account_id)
    return render(
        request,
        "pages/dashboard/notifications.html",
        {
            "preference": preference,
            "sections": service.SECTIONS_BY_ROLE.get(principal.role, ()),
            "titles": service.SECTION_TITLES,
            "saved": saved,
        }
        | ({"error": error, "email": email} if error else {}),
    )


@router.post("/notifications", response_class=HTMLResponse, response_model=None)
def save_settings(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    email: Annotated[str, Form()] = "",
    digest: Annotated[str | None, Form()] = None,
) -> Response:
    def change() -> Response:
        service.save_preference(session, actor=actor_of(request, principal), email=email, wants_digest=digest == "on")
        return see_other("/notifications?saved=1")

    return submit_form(
        request, change, lambda refusal: _settings_page(request, session, principal, error=refusal.message, email=email)
    )
