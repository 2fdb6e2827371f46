"""The catalogue browser: frameworks, their controls and measures, and a search as you type."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.catalogue import presenters
from audit_portal.db import SessionDep
from audit_portal.evidence import service as evidence_service
from audit_portal.soa.service import STATUS_LABELS
from audit_portal.templating import render

router = APIRouter()

CatalogueReader = Annotated[Principal, Authorize("catalogue:read")]


@router.get("/catalogue", response_class=RedirectResponse)
def catalogue_home(principal: CatalogueReader) -> RedirectResponse:
    return RedirectResponse(f"/catalogue/{presenters.DEFAULT_FRAMEWORK}", status_code=303)


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
            "status_labels": STATUS_LABELS,
            "corrupted_evidence": evidence_service.corrupted_for_control(
                session, page.control,
                [*page.own_requirements, *(r for item in page.measure_requirements for r in item.requirements)],
            ),
        },
        block="content",
    )
