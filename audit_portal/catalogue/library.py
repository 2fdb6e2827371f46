"""The requirement library: switching a library requirement off (with a recorded reason) and back on.

The shipped catalogue gives every Annex A control of both editions and every ISMS clause a
requirement of its own. The organisation's Annex 2 measures keep their own requirements, which
are its promises and cannot be switched off here. A library requirement applies unless an admin
switches it off with a reason; both decisions are audit events. Coverage leaves a switched-off
requirement out and lists it with its reason; a control whose requirements are all switched off
is ``no_requirement`` and never covered.
"""

from __future__ import annotations

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.catalogue import repository
from audit_portal.catalogue.models import Requirement, RequirementSwitchOff
from audit_portal.clock import utcnow
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.i18n import N_
from audit_portal.principals import Actor

LIBRARY_FRAMEWORKS = ("iso27001-2022", "iso27001-2013")
REASON_MIN_LENGTH = 10
REASON_MAX_LENGTH = 2000


def library_requirement(session: Session, key: str) -> Requirement:
    """A live requirement of the library (an ISO control's or clause's own), or NotFound/InvalidInput."""
    requirement = repository.requirements_by_key(session, [key.strip()]).get(key.strip())
    if requirement is None or requirement.retired_at is not None:
        raise NotFound(N_("The catalogue has no requirement '%(key)s'."), values={"key": key})
    control = repository.controls_by_ids(session, [requirement.control_id]).get(requirement.control_id)
    if control is None or control.framework_key not in LIBRARY_FRAMEWORKS:
        raise InvalidInput(
            N_(
                "%(key)s belongs to the organisation's own measures; only requirements of the library "
                "(ISO/IEC 27001 controls and clauses) can be switched off."
            ),
            values={"key": key},
        )
    return requirement


def switch_off(session: Session, *, key: str, reason: str | None, actor: Actor) -> RequirementSwitchOff:
    principal = actor.principal
    requirement = library_requirement(session, key)
    text = (reason or "").strip()
    if len(text) < REASON_MIN_LENGTH:
        raise InvalidInput(
            N_("Say why this requirement does not apply (at least 10 characters); the reason is shown to auditors."),
            errors=[{"location": "reason", "message": N_("A reason of at least 10 characters is required.")}],
        )
    if len(text) > REASON_MAX_LENGTH:
        raise InvalidInput(
            N_("Keep the reason under %(most)s characters."),
            values={"most": REASON_MAX_LENGTH},
            errors=[
                {
                    "location": "reason",
                    "message": N_("Keep the reason under %(most)s characters."),
                    "values": {"most": REASON_MAX_LENGTH},
                }
            ],
        )
    assert requirement.id is not None
    existing = repository.switch_off_of(session, requirement.id)
    before = existing.reason if existing else None
    if existing is None:
        existing = RequirementSwitchOff(
            requirement_id=requirement.id,
            reason=text,
            switched_off_by=principal.username[:100],
            switched_off_at=utcnow(),
        )
        repository.add(session, existing)
    else:
        existing.reason = text
        existing.switched_off_by = principal.username[:100]
        existing.switched_off_at = utcnow()
        session.flush()
    record_event(
        session,
        actor=actor,
        action="requirement.switch_off",
        object_type="requirement",
        object_id=requirement.key,
        detail={"reason": text, "reason_before": before},
    )
    return existing


def switch_on(session: Session, *, key: str, actor: Actor) -> Requirement:
    requirement = library_requirement(session, key)
    assert requirement.id is not None
    existing = repository.switch_off_of(session, requirement.id)
    if existing is None:
        return requirement  # already applies: nothing to change, nothing to record
    reason = existing.reason
    repository.remove(session, existing)
    record_event(
        session,
        actor=actor,
        action="requirement.switch_on",
        object_type="requirement",
        object_id=requirement.key,
        detail={"reason_was": reason},
    )
    return requirement
