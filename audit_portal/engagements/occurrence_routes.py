"""A requirement's occurrence history (filtered, keyset-paged) and review of whole occurrences,
one at a time or several selected with one decision and one comment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.db import SessionDep
from audit_portal.engagements import occurrence_review, occurrences, service
from audit_portal.engagements.models import REVIEW_ACCEPTED, REVIEW_PENDING, REVIEW_REJECTED
from audit_portal.forms import see_other, submit_form
from audit_portal.i18n import N_, Wording
from audit_portal.request_actor import actor_of
from audit_portal.templating import is_fragment_request, render, request_language

router = APIRouter()

Reader = Annotated[Principal, Authorize("engagements:read")]
Reviewer = Annotated[Principal, Authorize("evidence:review")]
Text = Annotated[str, Form()]
BASE = "/engagements/{engagement_id}/controls/{ref}/requirements/{requirement_id}/occurrences"

REVIEW_LABELS = {
    REVIEW_PENDING: N_("Not reviewed"),
    REVIEW_ACCEPTED: N_("Accepted"),
    REVIEW_REJECTED: N_("Rejected"),
}


def occurrence_filter(
    period_from: str = "", period_to: str = "", review: str = "", run_status: str = "", before: str = ""
) -> occurrences.OccurrenceFilter:
    return occurrences.OccurrenceFilter(period_from, period_to, review, run_status, before)


def occurrence_filter_form(
    period_from: Text = "", period_to: Text = "", review: Text = "", run_status: Text = "", before: Text = ""
) -> occurrences.OccurrenceFilter:
    return occurrences.OccurrenceFilter(period_from, period_to, review, run_status, before)


@router.get(BASE, response_class=HTMLResponse, response_model=None)
def occurrence_history(
    request: Request,
    session: SessionDep,
    principal: Reader,
    engagement_id: int,
    ref: str,
    requirement_id: int,
    wanted: Annotated[occurrences.OccurrenceFilter, Depends(occurrence_filter)],
) -> HTMLResponse:
    return _history(request, session, principal, engagement_id, ref, requirement_id, wanted)


@router.post(BASE + "/review", response_class=HTMLResponse, response_model=None)
def review_occurrences(
    request: Request,
    session: SessionDep,
    principal: Reviewer,
    engagement_id: int,
    ref: str,
    requirement_id: int,
    wanted: Annotated[occurrences.OccurrenceFilter, Depends(occurrence_filter_form)],
    occurrence: Annotated[list[int] | None, Form()] = None,
    only: Annotated[int | None, Form()] = None,
    decision: Text = "",
    comment: Text = "",
) -> Response:
    """Review the selected occurrences (or the one whose own Accept button was pressed)."""
    engagement = service.get_engagement(session, principal, engagement_id)
    occurrence_review.requirement_of_control(session, engagement, ref, requirement_id)
    anchors = [only] if only is not None else list(occurrence or [])

    def change() -> Response:
        count = occurrence_review.review_occurrences(
            session,
            actor=actor_of(request, principal),
            engagement_id=engagement_id,
            requirement_id=requirement_id,
            anchor_ids=anchors,
            decision=decision or ("accept" if only is not None else ""),
            comment=comment,
        )
        if not is_fragment_request(request):
            return see_other(f"/engagements/{engagement_id}/controls/{ref}")
        say = Wording(request_language(request))
        if (decision or "").strip().lower() == "reject":
            done = say.ngettext("%(count)s item rejected.", "%(count)s items rejected.", count, count=count)
        else:
            done = say.ngettext("%(count)s item accepted.", "%(count)s items accepted.", count, count=count)
        return _history(request, session, principal, engagement_id, ref, requirement_id, wanted, message=done)

    return submit_form(
        request,
        change,
        lambda refusal: _history(
            request,
            session,
            principal,
            engagement_id,
            ref,
            requirement_id,
            wanted,
            errors=refusal.fields,
            comment=comment,
        ),
    )


def _history(
    request: Request,
    session,
    principal: Principal,
    engagement_id: int,
    ref: str,
    requirement_id: int,
    wanted: occurrences.OccurrenceFilter,
    *,
    errors: dict[str, str] | None = None,
    comment: str = "",
    message: str = "",
) -> HTMLResponse:
    engagement = service.get_engagement(session, principal, engagement_id)
    requirement = occurrence_review.requirement_of_control(session, engagement, ref, requirement_id)
    return render(
        request,
        "pages/engagements/requirement.html",
        {
            "engagement": engagement,
            "tab": "controls",
            "control_ref": ref,
            "requirement_key": requirement.key,
            "requirement_title": requirement.title,
            "history": occurrences.history(session, engagement, requirement_id, wanted),
            "run_filters": occurrences.RUN_FILTERS,
            "review_labels": REVIEW_LABELS,
            "can_review": allowed("evidence:review", principal.role),
            "errors": errors or {},
            "comment": comment,
            "message": message,
        },
        block="occurrences",
    )
