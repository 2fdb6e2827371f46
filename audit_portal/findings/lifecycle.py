"""The lifecycle of an auditor's finding, as audits run it (ISO 19011, ISO/IEC 27007):

    open -> action planned -> remediated -> closed
                 ^               |
                 +---------------+  (the auditor finds the remediation not effective)

- **Plan** (it, admin, or the auditor): owner, due date, root cause and the correction and
  corrective action are required.
- **Remediate** (it, admin, or the auditor): what was done, and at least one evidence item that
  shows it.
- **Verify** (only an auditor assigned to the engagement): close it as effective, send it back to
  "action planned", accept the risk of an observation or opportunity for improvement (never of a
  nonconformity), or reopen a closed finding.

Every step is kept as a :class:`FindingTransition` (who, when, from, to, note) and as an audit
event, and the organisation's roles can never close or risk-accept a finding: the matrix gives
``findings:verify`` to the auditor alone, and the rules below check the role again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.engagements import service as engagements
from audit_portal.errors import Conflict, Forbidden, InvalidInput, NotFound
from audit_portal.evidence import service as evidence_service
from audit_portal.findings import repository
from audit_portal.findings.models import Finding, FindingTransition
from audit_portal.i18n import N_, Sentences, Word, Words
from audit_portal.principals import Actor, Principal, Role

OPEN, PLANNED, REMEDIATED, CLOSED, RISK_ACCEPTED = (
    "open",
    "action_planned",
    "remediated",
    "closed",
    "risk_accepted",
)
NONCONFORMITIES = ("major_nc", "minor_nc")
NOTE_MAX_LENGTH = 20_000
OWNER_MAX_LENGTH = 100

# What the auditor decides when verifying, and the status each decision leads to.
VERIFY_DECISIONS = {
    "close": CLOSED,
    "not_effective": PLANNED,
    "accept_risk": RISK_ACCEPTED,
    "reopen": OPEN,
}
# The statuses each verifying decision may start from.
VERIFY_FROM = {
    "close": (REMEDIATED,),
    "not_effective": (REMEDIATED,),
    "accept_risk": (OPEN, PLANNED, REMEDIATED),
    "reopen": (CLOSED, RISK_ACCEPTED),
}
DECISION_LABELS = {
    "close": N_("Verified effective: close"),
    "not_effective": N_("Not effective: back to action planned"),
    "accept_risk": N_("Accept the risk (observations and improvements only)"),
    "reopen": N_("Reopen"),
}


@dataclass(frozen=True)
class Plan:
    owner: str
    due_date: str
    root_cause: str
    corrective_action: str
    note: str = ""


def _auditor_finding(session: Session, principal: Principal, engagement_id: int, finding_id: int) -> Finding:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    finding = repository.get(session, finding_id)
    if finding is None or finding.engagement_id != engagement.id or finding.source != "auditor":
        raise NotFound(
            N_("Engagement %(engagement)s has no finding %(id)s."),
            values={"engagement": engagement_id, "id": finding_id},
        )
    return finding


def _text(value: str, location: str, message: str, errors: list[dict[str, Any]], *, limit: int) -> str:
    value = value.strip()
    if not value:
        errors.append({"location": location, "message": message})
    elif len(value) > limit:
        errors.append(
            {"location": location, "message": N_("Keep it under %(most)s characters."), "values": {"most": limit}}
        )
    return value


def _refuse_if(errors: list[dict[str, Any]], summary: str) -> None:
    """``summary`` a catalogue message with ``%(reasons)s`` for the field errors."""
    if errors:
        raise InvalidInput(summary, values={"reasons": Sentences(errors)}, errors=errors)


def _move(
    session: Session,
    finding: Finding,
    *,
    to_status: str,
    actor: Actor,
    note: str | None,
    detail: dict[str, object] | None = None,
) -> FindingTransition:
    principal = actor.principal
    now = clock.utcnow()
    transition = repository.add_transition(
        session,
        FindingTransition(
            finding_id=finding.id,
            at=now,
            actor=principal.username or principal.role,
            actor_role=principal.role,
            from_status=finding.status,
            to_status=to_status,
            note=note or None,
        ),
    )
    before = finding.status
    finding.status = to_status
    finding.closed_at = now if to_status in (CLOSED, RISK_ACCEPTED) else None
    session.add(finding)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="finding.transition",
        object_type="finding",
        object_id=finding.id or "",
        detail={
            "engagement": finding.engagement_id,
            "from": before,
            "to": to_status,
            "note": note or None,
            **(detail or {}),
        },
    )
    return transition


def record_opening(session: Session, finding: Finding, *, principal: Principal) -> FindingTransition:
    """The first step of a new finding's history (its audit event is the creation's own)."""
    return repository.add_transition(
        session,
        FindingTransition(
            finding_id=finding.id,
            at=finding.created_at,
            actor=principal.username or principal.role,
            actor_role=principal.role,
            from_status=None,
            to_status=finding.status,
            note="Recorded.",
        ),
    )


def plan(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    finding_id: int,
    plan: Plan,
) -> Finding:
    principal = actor.principal
    finding = _auditor_finding(session, principal, engagement_id, finding_id)
    if finding.status not in (OPEN, PLANNED):
        raise Conflict(
            N_("Finding %(id)s is %(status)s; only an open finding (or one whose plan changes) gets a plan."),
            values={"id": finding_id, "status": Word(finding.status)},
        )
    errors: list[dict[str, Any]] = []
    owner = _text(plan.owner, "owner", N_("Name the owner of the action."), errors, limit=OWNER_MAX_LENGTH)
    root_cause = _text(plan.root_cause, "root_cause", N_("Write down the root cause."), errors, limit=NOTE_MAX_LENGTH)
    action = _text(
        plan.corrective_action,
        "corrective_action",
        N_("Describe the correction and the corrective action."),
        errors,
        limit=NOTE_MAX_LENGTH,
    )
    due: date | None = None
    try:
        due = date.fromisoformat(plan.due_date.strip())
    except ValueError:
        errors.append({"location": "due_date", "message": N_("Give the due date as YYYY-MM-DD.")})
    _refuse_if(errors, N_("The plan was not saved: %(reasons)s"))
    finding.owner, finding.root_cause, finding.corrective_action, finding.due_date = owner, root_cause, action, due
    _move(
        session,
        finding,
        to_status=PLANNED,
        actor=actor,
        note=plan.note.strip() or None,
        detail={"owner": owner, "due_date": due.isoformat() if due else None},
    )
    return finding


def remediate(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    finding_id: int,
    note: str,
    evidence_ids: list[str],
) -> Finding:
    principal = actor.principal
    finding = _auditor_finding(session, principal, engagement_id, finding_id)
    if finding.status != PLANNED:
        raise Conflict(
            N_("Finding %(id)s is %(status)s; plan the action before reporting it remediated."),
            values={"id": finding_id, "status": Word(finding.status)},
        )
    errors: list[dict[str, Any]] = []
    text = _text(note, "note", N_("Say what was done."), errors, limit=NOTE_MAX_LENGTH)
    ids: list[int] = []
    for raw in evidence_ids:
        for part in raw.replace(",", " ").split():
            try:
                evidence_id = int(part.lstrip("#"))
                evidence_service.get(session, evidence_id, principal)
            except (ValueError, NotFound):
                errors.append(
                    {
                        "location": "evidence_ids",
                        "message": N_("There is no evidence '%(id)s'."),
                        "values": {"id": part},
                    }
                )
                continue
            ids.append(evidence_id)
    if not ids and not any(e["location"] == "evidence_ids" for e in errors):
        errors.append({"location": "evidence_ids", "message": N_("Link the evidence that shows the remediation.")})
    _refuse_if(errors, N_("The remediation was not saved: %(reasons)s"))
    repository.link_evidence(session, finding_id, ids)
    _move(
        session,
        finding,
        to_status=REMEDIATED,
        actor=actor,
        note=text,
        detail={"evidence": sorted(set(ids))},
    )
    return finding


def verify(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    finding_id: int,
    decision: str,
    note: str,
) -> Finding:
    principal = actor.principal
    if principal.role != Role.auditor:
        raise Forbidden(N_("Only an auditor of the engagement verifies, closes or accepts the risk of a finding."))
    finding = _auditor_finding(session, principal, engagement_id, finding_id)
    errors: list[dict[str, Any]] = []
    if decision not in VERIFY_DECISIONS:
        errors.append(
            {
                "location": "decision",
                "message": N_("Choose a decision: %(choices)s."),
                "values": {"choices": Words(DECISION_LABELS.values())},
            }
        )
    text = _text(note, "note", N_("Say what you verified and what you concluded."), errors, limit=NOTE_MAX_LENGTH)
    _refuse_if(errors, N_("Nothing was changed: %(reasons)s"))
    if finding.status not in VERIFY_FROM[decision]:
        raise Conflict(
            N_("Finding %(id)s is %(status)s: %(decision)s is not possible from there."),
            values={
                "id": finding_id,
                "status": Word(finding.status),
                "decision": DECISION_LABELS[decision].lower(),
            },
        )
    if decision == "accept_risk" and finding.category in NONCONFORMITIES:
        raise Conflict(N_("A nonconformity must be corrected; its risk cannot be accepted."))
    _move(
        session,
        finding,
        to_status=VERIFY_DECISIONS[decision],
        actor=actor,
        note=text,
        detail={"decision": decision},
    )
    return finding


def next_steps(finding: Finding, principal: Principal) -> list[str]:
    """The lifecycle forms the page shows this reader: "plan", "remediate" and/or "verify"."""
    if finding.source != "auditor":
        return []
    steps = []
    may_maintain = principal.role in (Role.it, Role.admin, Role.auditor)
    if may_maintain and finding.status in (OPEN, PLANNED):
        steps.append("plan")
    if may_maintain and finding.status == PLANNED:
        steps.append("remediate")
    if principal.role == Role.auditor and any(finding.status in VERIFY_FROM[d] for d in VERIFY_DECISIONS):
        steps.append("verify")
    return steps


def decisions_for(finding: Finding) -> list[str]:
    return [
        decision
        for decision, starts in VERIFY_FROM.items()
        if finding.status in starts and not (decision == "accept_risk" and finding.category in NONCONFORMITIES)
    ]
