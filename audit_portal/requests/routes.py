"""Evidence requests of an engagement: the queue, asking, answering, and the auditor's decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_portal import clock
from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.db import SessionDep
from audit_portal.engagements import service as engagements
from audit_portal.errors import InvalidInput
from audit_portal.forms import Refusal, see_other, submit_form
from audit_portal.i18n import N_
from audit_portal.request_actor import actor_of
from audit_portal.requests import service
from audit_portal.requests.models import STATES
from audit_portal.search import Search
from audit_portal.templating import render

router = APIRouter()

Reader = Annotated[Principal, Authorize("requests:read")]
Asker = Annotated[Principal, Authorize("requests:create")]
Answerer = Annotated[Principal, Authorize("requests:answer")]
Text = Annotated[str, Form()]


def _context(principal: Principal) -> dict[str, object]:
    return {
        "tab": "requests",
        "state_labels": service.STATE_LABELS,
        "states": STATES,
        "can_ask": allowed("requests:create", principal.role),
        "can_answer": allowed("requests:answer", principal.role),
    }


@router.get("/engagements/{engagement_id}/requests", response_class=HTMLResponse, response_model=None)
def queue(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, state: str = ""
) -> HTMLResponse:
    engagement, rows = service.queue(session, principal, engagement_id, state=state)
    return render(
        request,
        "pages/engagements/requests.html",
        {"engagement": engagement, "rows": rows, "state": state, **_context(principal)},
        block="queue",
    )


@router.get("/engagements/{engagement_id}/requests/new", response_class=HTMLResponse, response_model=None)
def new_form(
    request: Request, session: SessionDep, principal: Asker, engagement_id: int, subject: str = ""
) -> HTMLResponse:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    return _form(request, principal, engagement, {"subject": subject, "question": "", "due_date": ""}, {})


def _form(
    request: Request,
    principal: Principal,
    engagement,
    values: dict[str, str],
    errors: dict[str, str],
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/request_form.html",
        {
            "engagement": engagement,
            "values": values,
            "errors": errors,
            "today": clock.utcnow().date(),
            **_context(principal),
        },
        block="form",
    )


@router.post("/engagements/{engagement_id}/requests/new", response_class=HTMLResponse, response_model=None)
def create(
    request: Request,
    session: SessionDep,
    principal: Asker,
    engagement_id: int,
    subject: Text = "",
    question: Text = "",
    due_date: Text = "",
) -> Response:
    def change() -> Response:
        created = service.create(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            subject=subject,
            question=question,
            due_date=due_date,
        )
        return see_other(f"/engagements/{engagement_id}/requests/{created.id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement = engagements.get_engagement(session, principal, engagement_id)
        values = {"subject": subject, "question": question, "due_date": due_date}
        return _form(request, principal, engagement, values, refusal.fields)

    return submit_form(request, change, refused)


@router.get(
    "/engagements/{engagement_id}/requests/{request_id}",
    response_class=HTMLResponse,
    response_model=None,
)
def detail(
    request: Request, session: SessionDep, principal: Reader, engagement_id: int, request_id: int
) -> HTMLResponse:
    engagement, row = service.view(session, principal, engagement_id, request_id)
    return _detail(request, principal, engagement, row, None)


def _detail(
    request: Request,
    principal: Principal,
    engagement,
    row,
    error: str | None,
) -> HTMLResponse:
    return render(
        request,
        "pages/engagements/request.html",
        {"engagement": engagement, "row": row, "error": error, **_context(principal)},
    )


@router.get(
    "/engagements/{engagement_id}/requests/{request_id}/evidence-search",
    response_class=HTMLResponse,
    response_model=None,
)
def evidence_search(
    request: Request,
    session: SessionDep,
    principal: Answerer,
    engagement_id: int,
    request_id: int,
    q: str = "",
) -> HTMLResponse:
    candidates = service.evidence_candidates(session, principal, engagement_id, request_id, q)
    return render(
        request,
        "pages/engagements/_evidence_candidates.html",
        {"candidates": candidates, "q": q, "search": Search.parse(q)},
    )


@router.post(
    "/engagements/{engagement_id}/requests/{request_id}/answer",
    response_class=HTMLResponse,
    response_model=None,
)
def answer(
    request: Request,
    session: SessionDep,
    principal: Answerer,
    engagement_id: int,
    request_id: int,
    evidence_ids: Annotated[list[str] | None, Form()] = None,
    note: Text = "",
) -> Response:
    def change() -> Response:
        service.answer(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            request_id=request_id,
            evidence_ids=_evidence_numbers(evidence_ids or []),
            note=note,
        )
        return see_other(f"/engagements/{engagement_id}/requests/{request_id}")

    def refused(refusal: Refusal) -> HTMLResponse:
        engagement, row = service.view(session, principal, engagement_id, request_id)
        return _detail(request, principal, engagement, row, refusal.message)

    return submit_form(request, change, refused)


@router.post(
    "/engagements/{engagement_id}/requests/{request_id}/state",
    response_class=HTMLResponse,
    response_model=None,
)
def decide(
    request: Request,
    session: SessionDep,
    principal: Asker,
    engagement_id: int,
    request_id: int,
    action: Text = "",
) -> RedirectResponse:
    service.decide(
        session,
        actor=actor_of(request, principal),
        engagement_id=engagement_id,
        request_id=request_id,
        action=action,
    )
    return RedirectResponse(f"/engagements/{engagement_id}/requests/{request_id}", status_code=303)


def _evidence_numbers(values: list[str]) -> list[int]:
    """Ids from the ticked boxes and the numbers field, which may hold several separated by
    commas or spaces."""
    try:
        return [int(part) for value in values for part in value.replace(",", " ").split()]
    except ValueError:
        raise InvalidInput(
            N_("Evidence is named by its number."),
            errors=[{"location": "evidence_ids", "message": N_("not a number")}],
        ) from None
