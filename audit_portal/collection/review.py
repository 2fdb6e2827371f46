"""Signing off the periodic human review that a collector run produced (COM-1: a firewall-rule
review counts only once a person with the it role has signed it off, with a decision on every
rule). Whether a sign-off came late is :mod:`audit_portal.collection.signoffs`."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.clock import as_utc, utcnow
from audit_portal.collection import rule_review, views
from audit_portal.collection.models import RUN_OK
from audit_portal.collection.signoffs import signoff_grace
from audit_portal.errors import Conflict, Forbidden, InvalidInput
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import EvidenceSignoff
from audit_portal.i18n import N_
from audit_portal.principals import Actor
from evidence_store.base import ObjectStore

MAX_REMARK = 2000


def sign_off_run(
    session: Session,
    run_id: int,
    *,
    remark: str,
    actor: Actor,
    store: ObjectStore,
    signed_at: datetime | None = None,
) -> list[EvidenceSignoff]:
    """A person with the it role signs off the review a run produced: one EvidenceSignoff per
    evidence item of the run, so the requirement that needs a sign-off counts from now on. A
    firewall review is signed off only once every rule has a decision."""
    principal = actor.principal
    if principal.user_id is None:
        raise Forbidden(N_("Only a signed-in person can sign off a review."))
    remark = remark.strip()
    if not remark:
        raise InvalidInput(
            N_("Write a remark: what you reviewed and what you concluded."),
            errors=[{"location": "remark", "message": N_("required")}],
        )
    if len(remark) > MAX_REMARK:
        raise InvalidInput(
            N_("The remark is longer than %(most)s characters."),
            values={"most": MAX_REMARK},
            errors=[{"location": "remark", "message": N_("too long")}],
        )
    detail = views.run_detail(session, run_id)
    if not detail.needs_signoff:
        raise InvalidInput(N_("Runs of %(instance)s need no sign-off."), values={"instance": detail.instance.name})
    if detail.run.status != RUN_OK or not detail.evidence:
        raise InvalidInput(N_("Only a successful run with its evidence can be signed off."))
    if detail.signed_off:
        raise Conflict(N_("Run %(run)s is already signed off."), values={"run": run_id})
    rules = rule_review.rules_of(session, store, detail)
    open_rules = rule_review.undecided(rules)
    if open_rules:
        raise InvalidInput(
            N_(
                "%(open)s of %(rules)s rules have no decision yet (first: %(first)s); record keep, change or "
                "remove for every rule before you sign off."
            ),
            values={"open": len(open_rules), "rules": len(rules), "first": open_rules[0].label},
            errors=[
                {
                    "location": "decisions",
                    "message": N_("%(count)s rules without a decision"),
                    "values": {"count": len(open_rules)},
                }
            ],
        )
    now = signed_at or utcnow()  # the demo replays sign-offs of the past
    signoffs = [
        EvidenceSignoff(evidence_id=item.id, signed_by_id=principal.user_id, signed_at=now, remark=remark)
        for item in detail.evidence
        if item.id not in detail.signoffs
    ]
    evidence_repository.add_signoffs(session, signoffs)
    grace = signoff_grace(catalogue_repository.requirements_by_key(session, detail.instance.requirement_list).values())
    late = grace is not None and as_utc(now) > as_utc(detail.run.started_at) + grace
    record_event(
        session,
        actor=actor,
        action="collector_run.signoff",
        object_type="collector_run",
        object_id=run_id,
        detail={
            "instance": detail.instance.name,
            "evidence": [s.evidence_id for s in signoffs],
            "remark": remark,
            "rules": len(rules),
            "late": late,
        },
    )
    return signoffs
