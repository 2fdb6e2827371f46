"""The catalogue browser: frameworks, their controls and measures, and a search as you type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.catalogue import library, presenters
from audit_portal.db import SessionDep
from audit_portal.evidence import service as evidence_service
from audit_portal.forms import see_other, submit_form
from audit_portal.request_actor import actor_of
from audit_portal.soa.service import STATUS_LABELS
from audit_portal.templating import render

router = APIRouter()

CatalogueReader = Annotated[Principal, Authorize("catalogue:read")]
RequirementSwitcher = Annotated[Principal, Authorize("requirements:switch")]


@router.get("/catalogue", response_class=RedirectResponse)
def catalogue_home(principal: CatalogueReader) -> RedirectResponse:
    return RedirectResponse(f"/catalogue/{presenters.DEFAULT_FRAMEWORK}", status_code=303)


# Declared before /catalogue/{framework}/{ref}: requirement keys hold a "/", so they travel in the form.
@router.post("/catalogue/requirements/switch-off", response_class=HTMLResponse, response_model=None)
def switch_off_requirement(
    request: Request,
    session: SessionDep,
    principal: RequirementSwitcher,
    key: Annotated[str, Form(max_length=128)] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Switch a library requirement off, with the reason auditors will read."""

    def change() -> Response:
        library.switch_off(session, key=key, reason=reason, actor=actor_of(request, principal))
        return _back_to_control(session, key)

    return submit_form(request, change, lambda refusal: _control_page(request, session, key, refusal.message))


@router.post("/catalogue/requirements/switch-on", response_class=HTMLResponse, response_model=None)
def switch_on_requirement(
    request: Request,
    session: SessionDep,
    principal: RequirementSwitcher,
    key: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    library.switch_on(session, key=key, actor=actor_of(request, principal))
    return _back_to_control(session, key)


def _back_to_control(session: SessionDep, key: str) -> RedirectResponse:
    control = presenters.control_of_requirement(session, key)
    return see_other(f"/catalogue/{control.framework_key}/{control.ref}#requirements")


def _control_page(request: Request, session: SessionDep, key: str, error: str) -> HTMLResponse:
    """The requirement's control page with the reason its switch was refused."""
    control = presenters.control_of_requirement(session, key)
    page = presenters.control_page(session, control.framework_key, control.ref)
    return render(
        request,
        "pages/catalogue/control.html",
        {
            "page": page,
            "labels": presenters.label_map(page.frameworks),
            "can_edit_soa": False,
            "can_switch": True,
            "status_labels": STATUS_LABELS,
            "switch_error": error,
            "switch_key": key,
        },
        block="content",
    )


# Declared before /catalogue/{framework} so "search" is never read as a framework key.
@router.get("/catalogue/search", response_class=HTMLResponse)
def catalogue_search(
    request: Request,
    session: SessionDep,
    principal: CatalogueReader,
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    results = presenters.search(session, q)
    return render(request, "pages/catalogue/search.html", {"results": results}, block="results")


@router.get("/catalogue/{framework}", response_class=HTMLResponse)
def framework_page(request: Request, session: SessionDep, principal: CatalogueReader, framework: str) -> HTMLResponse:
    page = presenters.framework_page(session, framework)
    return render(
        request,
        "pages/catalogue/framework.html",
        {"page": page, "labels": presenters.label_map(page.frameworks)},
        block="content",
    )


@router.get("/catalogue/{framework}/{ref}", response_class=HTMLResponse)
def control_page(
    request: Request, session: SessionDep, principal: CatalogueReader, framework: str, ref: str
) -> HTMLResponse:
    page = presenters.control_page(session, framework, ref)
    return render(
        request,
        "pages/catalogue/control.html",
        {
            "page": page,
            "labels": presenters.label_map(page.frameworks),
            "can_edit_soa": allowed("soa:edit", principal.role),
            "can_switch": allowed("requirements:switch", principal.role),
            "status_labels": STATUS_LABELS,
            "corrupted_evidence": evidence_service.corrupted_for_control(
                session,
                page.control,
                [*page.own_requirements, *(r for item in page.measure_requirements for r in item.requirements)],
            ),
        },
        block="content",
    )
