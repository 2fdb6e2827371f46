"""Evidence requests: the auditor asks for evidence on a control or a requirement by a due date;
IT answers by linking existing evidence or uploading new evidence; the auditor accepts the
answer, sends it back (reopen) or closes the request.

States and who moves them::

    open --answer (it, admin)--> answered --accept (auditor)--> accepted
      ^                             |                              |
      +------reopen (auditor)-------+                              |
    open | answered | accepted --close (auditor)--> closed

A request is overdue while it is open after its due date. Every state change is an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import Control, Requirement
from audit_portal.engagements import service as engagements
from audit_portal.engagements.models import Engagement
from audit_portal.errors import Conflict, InvalidInput, NotFound
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.i18n import N_, Sentences, Word
from audit_portal.principals import Actor, Principal
from audit_portal.requests import repository
from audit_portal.requests.models import (
    STATE_ACCEPTED,
    STATE_ANSWERED,
    STATE_CLOSED,
    STATE_OPEN,
    STATES,
    EvidenceRequest,
    EvidenceRequestItem,
)
from audit_portal.search import Search

QUESTION_MAX_LENGTH = 4000
NOTE_MAX_LENGTH = 4000
STATE_LABELS = {
    STATE_OPEN: N_("Open"),
    STATE_ANSWERED: N_("Answered"),
    STATE_ACCEPTED: N_("Accepted"),
    STATE_CLOSED: N_("Closed"),
}
# Auditor decisions: the action, the states it may start from, the state it leads to.
DECISIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((STATE_ANSWERED,), STATE_ACCEPTED),
    "reopen": ((STATE_ANSWERED,), STATE_OPEN),
    "close": ((STATE_OPEN, STATE_ANSWERED, STATE_ACCEPTED), STATE_CLOSED),
}
# The refusal of a decision the request's state does not allow, one sentence per decision.
PAST_TENSE = {
    "accept": N_("Request %(id)s is %(state)s; it cannot be accepted from there."),
    "reopen": N_("Request %(id)s is %(state)s; it cannot be reopened from there."),
    "close": N_("Request %(id)s is %(state)s; it cannot be closed from there."),
}


@dataclass(frozen=True)
class RequestView:
    request: EvidenceRequest
    subject: str  # "8.8 Management of technical vulnerabilities" or "OPS-2/patches: ..."
    subject_ref: str | None  # the control ref for a link to the control page
    evidence: list[Evidence]
    asked_by: str
    answered_by: str | None
    today: date

    @property
    def overdue(self) -> bool:
        return self.request.state == STATE_OPEN and self.request.due_date < self.today

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.request.state]


def views(session: Session, requests: list[EvidenceRequest]) -> list[RequestView]:
    """Views of many requests in a fixed number of queries."""
    controls = catalogue_repository.controls_by_ids(session, {r.control_id for r in requests if r.control_id})
    requirements = catalogue_repository.requirements_by_ids(
        session, {r.requirement_id for r in requests if r.requirement_id}
    )
    requirement_controls = catalogue_repository.controls_of_requirements(session, requirements)
    users = auth_repository.users_by_ids(
        session,
        {r.created_by for r in requests} | {r.answered_by for r in requests if r.answered_by},
    )
    items = items_of(session, [r.id for r in requests])
    today = clock.utcnow().date()
    result = []
    for r in requests:
        ref: str | None
        if r.control_id:
            control = controls[r.control_id]
            subject, ref = f"{control.ref} {control.title}", control.ref
        else:
            assert r.requirement_id is not None  # a request asks about a control or a requirement
            requirement = requirements[r.requirement_id]
            owner = requirement_controls.get(requirement.id)
            subject, ref = f"{requirement.key}: {requirement.title}", owner.ref if owner else None
        result.append(
            RequestView(
                request=r,
                subject=subject,
                subject_ref=ref,
                evidence=items.get(r.id, []),
                asked_by=users[r.created_by].username if r.created_by in users else "—",
                answered_by=users[r.answered_by].username if r.answered_by in users else None,
                today=today,
            )
        )
    return result


def items_of(session: Session, request_ids: list[int]) -> dict[int, list[Evidence]]:
    """The evidence each request links, newest first."""
    linked = repository.evidence_ids_of(session, request_ids)
    found = evidence_repository.evidence_by_ids(session, {i for ids in linked.values() for i in ids})
    return {
        request_id: sorted((found[i] for i in ids if i in found), key=lambda e: e.collected_at, reverse=True)
        for request_id, ids in linked.items()
    }


def queue(
    session: Session, principal: Principal, engagement_id: int, *, state: str = ""
) -> tuple[Engagement, list[RequestView]]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    states = [state] if state in STATES else None
    return engagement, views(session, list(repository.of_engagement(session, engagement.id, states=states)))


def for_control(
    session: Session, engagement: Engagement, control: Control, requirement_ids: set[int]
) -> list[RequestView]:
    return views(session, list(repository.for_control(session, engagement.id, control.id, requirement_ids)))


def get_request(
    session: Session, principal: Principal, engagement_id: int, request_id: int
) -> tuple[Engagement, EvidenceRequest]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    evidence_request = repository.get(session, request_id)
    if evidence_request is None or evidence_request.engagement_id != engagement.id:
        raise NotFound(
            N_("Engagement %(engagement)s has no evidence request %(id)s."),
            values={"engagement": engagement_id, "id": request_id},
        )
    return engagement, evidence_request


def view(session: Session, principal: Principal, engagement_id: int, request_id: int) -> tuple[Engagement, RequestView]:
    engagement, evidence_request = get_request(session, principal, engagement_id, request_id)
    return engagement, views(session, [evidence_request])[0]


# --- asking ---------------------------------------------------------------------------------


def create(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    subject: str,
    question: str,
    due_date: str,
) -> EvidenceRequest:
    """``subject`` is a control or measure ref (``8.8``, ``OPS-2``) or a requirement key
    (``OPS-2/patches``)."""
    principal = actor.principal
    engagement = engagements.get_engagement(session, principal, engagement_id)
    errors: list[dict[str, Any]] = []
    control, requirement = _subject(session, engagement, subject.strip(), errors)
    text = question.strip()
    if not text:
        errors.append({"location": "question", "message": N_("Write the question: what evidence do you need?")})
    elif len(text) > QUESTION_MAX_LENGTH:
        errors.append(
            {
                "location": "question",
                "message": N_("Keep the question under %(most)s characters."),
                "values": {"most": QUESTION_MAX_LENGTH},
            }
        )
    due = _due(due_date, errors)
    if errors:
        raise InvalidInput(
            N_("The request was not sent: %(reasons)s"), values={"reasons": Sentences(errors)}, errors=errors
        )
    assert due is not None
    assert principal.user_id is not None  # only a signed-in auditor asks (the matrix)
    evidence_request = repository.add(
        session,
        EvidenceRequest(
            engagement_id=engagement.id,
            control_id=control.id if control else None,
            requirement_id=requirement.id if requirement else None,
            question=text,
            due_date=due,
            state=STATE_OPEN,
            created_by=principal.user_id,
            created_at=clock.utcnow(),
        ),
    )
    _record(
        session,
        actor,
        evidence_request,
        "request.create",
        None,
        {"subject": subject.strip(), "due_date": due.isoformat()},
    )
    return evidence_request


def _subject(
    session: Session, engagement: Engagement, subject: str, errors: list[dict[str, Any]]
) -> tuple[Control | None, Requirement | None]:
    if not subject:
        errors.append(
            {
                "location": "subject",
                "message": N_("Name the control, measure or requirement the request is about."),
            }
        )
        return None, None
    if "/" in subject:
        requirement = catalogue_repository.requirements_by_key(session, [subject]).get(subject)
        if requirement is None or requirement.retired_at is not None:
            errors.append(
                {"location": "subject", "message": N_("There is no requirement '%(key)s'."), "values": {"key": subject}}
            )
        return None, requirement
    control = catalogue_repository.live_control_by_ref(
        session, [engagement.framework_key, engagements.MEASURES_FRAMEWORK], subject
    )
    if control is None:
        errors.append(
            {
                "location": "subject",
                "message": N_("There is no control or measure '%(ref)s' in this engagement's edition."),
                "values": {"ref": subject},
            }
        )
    return control, None


def _due(value: str, errors: list[dict[str, Any]]) -> date | None:
    try:
        due = date.fromisoformat(value.strip())
    except ValueError:
        errors.append({"location": "due_date", "message": N_("Give the due date as YYYY-MM-DD.")})
        return None
    if due < clock.utcnow().date():
        errors.append({"location": "due_date", "message": N_("The due date lies in the past.")})
    return due


# --- answering ------------------------------------------------------------------------------


def answer(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    request_id: int,
    evidence_ids: list[int],
    note: str | None,
) -> EvidenceRequest:
    """Link existing evidence (at least one item, counting what is linked already) and mark the
    request answered."""
    principal = actor.principal
    _, evidence_request = get_request(session, principal, engagement_id, request_id)
    if evidence_request.state not in (STATE_OPEN, STATE_ANSWERED):
        raise Conflict(
            N_("Request %(id)s is %(state)s; it takes no more answers."),
            values={"id": request_id, "state": Word(evidence_request.state)},
        )
    text = (note or "").strip() or None
    if text and len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            N_("Keep the note under %(most)s characters."),
            values={"most": NOTE_MAX_LENGTH},
            errors=[{"location": "note", "message": N_("too long")}],
        )
    found = evidence_repository.evidence_by_ids(session, evidence_ids)
    unknown = sorted(set(evidence_ids) - set(found))
    if unknown:
        raise InvalidInput(
            N_("There is no evidence %(id)s."),
            values={"id": ", ".join(map(str, unknown))},
            errors=[{"location": "evidence_ids", "message": N_("unknown evidence")}],
        )
    already = repository.evidence_ids_of(session, [request_id])[request_id]
    if not found and not already:
        raise InvalidInput(
            N_("Link at least one evidence item (search for it, or upload it first)."),
            errors=[{"location": "evidence_ids", "message": N_("no evidence")}],
        )
    for evidence_id in sorted(found):
        repository.link(
            session,
            EvidenceRequestItem(request_id=request_id, evidence_id=evidence_id, linked_at=clock.utcnow()),
        )
    before = evidence_request.state
    evidence_request.state = STATE_ANSWERED
    evidence_request.answered_by = principal.user_id
    evidence_request.answered_at = clock.utcnow()
    if text:
        evidence_request.answer_note = text
    session.add(evidence_request)
    session.flush()
    _record(
        session,
        actor,
        evidence_request,
        "request.answer",
        before,
        {"evidence": sorted(found), "note": text},
    )
    return evidence_request


def link_uploaded_evidence(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    evidence: Evidence,
) -> EvidenceRequest:
    """For the evidence upload page (``/evidence/upload?request=ID``): the fresh upload answers
    the request. Only an open or answered request takes it."""
    evidence_request = repository.get(session, request_id)
    if evidence_request is None:
        raise NotFound(N_("There is no evidence request %(id)s."), values={"id": request_id})
    return answer(
        session,
        actor=actor,
        engagement_id=evidence_request.engagement_id,
        request_id=request_id,
        evidence_ids=[evidence.id],
        note=None,
    )


def open_request_for_upload(session: Session, principal: Principal, request_id: int) -> RequestView:
    """The request an upload is about to answer, refused when it takes no answers."""
    evidence_request = repository.get(session, request_id)
    if evidence_request is None:
        raise NotFound(N_("There is no evidence request %(id)s."), values={"id": request_id})
    _, evidence_request = get_request(session, principal, evidence_request.engagement_id, request_id)
    if evidence_request.state not in (STATE_OPEN, STATE_ANSWERED):
        raise Conflict(
            N_("Request %(id)s is %(state)s; it takes no more answers."),
            values={"id": request_id, "state": Word(evidence_request.state)},
        )
    return views(session, [evidence_request])[0]


def evidence_candidates(
    session: Session, principal: Principal, engagement_id: int, request_id: int, text: str
) -> list[Evidence]:
    """Live evidence an answer could link, best first (see evidence.repository.search_evidence)."""
    get_request(session, principal, engagement_id, request_id)
    search = Search.parse(text)
    if search is None:
        return evidence_repository.newest_live(session)
    return evidence_repository.search_evidence(session, search)


# --- the auditor's decision -----------------------------------------------------------------


def decide(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    request_id: int,
    action: str,
) -> EvidenceRequest:
    principal = actor.principal
    _, evidence_request = get_request(session, principal, engagement_id, request_id)
    if action not in DECISIONS:
        raise InvalidInput(
            N_("Choose accept, reopen or close."),
            errors=[{"location": "action", "message": N_("unknown action")}],
        )
    allowed_from, target = DECISIONS[action]
    if evidence_request.state not in allowed_from:
        raise Conflict(PAST_TENSE[action], values={"id": request_id, "state": Word(evidence_request.state)})
    before = evidence_request.state
    evidence_request.state = target
    session.add(evidence_request)
    session.flush()
    _record(session, actor, evidence_request, f"request.{action}", before, {})
    return evidence_request


def _record(
    session: Session,
    actor: Actor,
    evidence_request: EvidenceRequest,
    action: str,
    before: str | None,
    detail: dict[str, object],
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        object_type="evidence_request",
        object_id=evidence_request.id or "",
        detail={
            "engagement": evidence_request.engagement_id,
            "state": [before, evidence_request.state],
            **detail,
        },
    )
