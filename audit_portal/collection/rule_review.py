"""The reviewer's decision per firewall rule (COM-1: "the reviewer's decision per rule (keep,
change, remove)"): recorded on the run page before the review is signed off as a whole.

The rules are the run's normalised ``rules`` list, read back from the evidence store; a decision
names its rule by its place in that list, which the stored (immutable) object keeps fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.collection import repository, service
from audit_portal.collection.models import RULE_DECISIONS, RULE_KEEP, RUN_OK, RuleDecision
from audit_portal.errors import Conflict, Forbidden, InvalidInput
from audit_portal.evidence import repository as evidence_repository
from audit_portal.i18n import N_
from audit_portal.principals import Actor
from evidence_store.base import ObjectStore

FIREWALL = "firewall"
MAX_REASON = 2000
NEEDS_REASON = tuple(d for d in RULE_DECISIONS if d != RULE_KEEP)


@dataclass(frozen=True)
class ReviewedRule:
    """One rule of the run as the reviewer sees it, with the decision recorded so far."""

    index: int
    label: str
    text: str
    action: str
    comment: str
    decision: RuleDecision | None


def decides_rules(detail: Any) -> bool:
    """Whether the run is a firewall review whose rules each need a decision."""
    return detail.needs_signoff and detail.instance.collector == FIREWALL and detail.run.status == RUN_OK


def _label(rule: dict[str, Any]) -> str:
    return f"{rule.get('input', '')}:{rule.get('table', '')}/{rule.get('chain', '')} #{rule.get('position', '')}"[:300]


class RulesUnreadable(InvalidInput):
    """The run's normalised rules cannot be read back from the store: no decision and no
    sign-off is possible until the object is restored (the scrub reports it)."""


def rules_of(session: Session, store: ObjectStore, detail: Any) -> list[ReviewedRule]:
    """Every rule of a firewall run with its decision; empty for any other run."""
    if not decides_rules(detail):
        return []
    normalised = service.read_normalised(store, evidence_repository.normalised_evidence(session, detail.run.id))
    if normalised is None or not isinstance(normalised.get("rules"), list):
        raise RulesUnreadable(
            N_(
                "The rules of run %(run)s cannot be read from the evidence store; restore its normalised "
                "result before deciding or signing off."
            ),
            values={"run": detail.run.id},
            errors=[{"location": "decisions", "message": N_("rules unreadable")}],
        )
    rules = normalised["rules"]
    decisions = {d.rule_index: d for d in repository.rule_decisions(session, detail.run.id)}
    return [
        ReviewedRule(
            index,
            _label(rule),
            str(rule.get("text", "")),
            str(rule.get("action", "")),
            str(rule.get("comment", "")),
            decisions.get(index),
        )
        for index, rule in enumerate(rules)
        if isinstance(rule, dict)
    ]


def undecided(rules: Sequence[ReviewedRule]) -> list[ReviewedRule]:
    return [rule for rule in rules if rule.decision is None]


def record_decisions(
    session: Session,
    store: ObjectStore,
    run_id: int,
    *,
    decisions: Sequence[tuple[int, str, str]],
    actor: Actor,
    decided_at: datetime | None = None,
) -> list[RuleDecision]:
    """Record (or change) the decisions ``(rule index, decision, reason)`` of a firewall run not
    yet signed off. A row with an empty decision is left as it was. Every error is collected
    first, named by field (``decision-<index>``, ``reason-<index>``), and nothing is saved
    while there is one. The saved decisions are one audit event."""
    principal = actor.principal
    from audit_portal.collection import views

    if principal.user_id is None:
        raise Forbidden(N_("Only a signed-in person can decide on firewall rules."))
    detail = views.run_detail(session, run_id)
    if not decides_rules(detail):
        raise InvalidInput(
            N_("Run %(run)s is not a successful firewall review: its rules take no decisions."), values={"run": run_id}
        )
    if detail.signed_off:
        raise Conflict(N_("Run %(run)s is already signed off; its decisions are final."), values={"run": run_id})
    rules = {rule.index: rule for rule in rules_of(session, store, detail)}
    errors: list[dict[str, Any]] = []
    wanted: list[tuple[ReviewedRule, str, str]] = []
    for index, decision, reason in decisions:
        decision, reason = decision.strip(), reason.strip()
        rule = rules.get(index)
        if rule is None:
            errors.append({"location": f"decision-{index}", "message": N_("this run has no such rule")})
            continue
        if not decision:
            continue
        if decision not in RULE_DECISIONS:
            errors.append(
                {
                    "location": f"decision-{index}",
                    "message": N_("choose %(choices)s"),
                    "values": {"choices": ", ".join(RULE_DECISIONS)},
                }
            )
        elif decision in NEEDS_REASON and not reason:
            errors.append(
                {
                    "location": f"reason-{index}",
                    "message": N_("a %(decision)s decision needs its reason"),
                    "values": {"decision": decision},
                }
            )
        elif len(reason) > MAX_REASON:
            errors.append(
                {
                    "location": f"reason-{index}",
                    "message": N_("at most %(most)s characters"),
                    "values": {"most": MAX_REASON},
                }
            )
        else:
            wanted.append((rule, decision, reason))
    if errors:
        raise InvalidInput(
            N_("%(count)s rule decisions could not be saved; nothing was saved.")
            if len(errors) != 1
            else N_("1 rule decision could not be saved; nothing was saved."),
            values={"count": len(errors)} if len(errors) != 1 else None,
            errors=errors,
        )
    now = decided_at or utcnow()
    saved: list[RuleDecision] = []
    for rule, decision, reason in wanted:
        row = rule.decision
        if row is not None and (row.decision, row.reason) == (decision, reason):
            continue
        if row is None:
            row = RuleDecision(
                run_id=run_id,
                rule_index=rule.index,
                rule_label=rule.label,
                rule_text=rule.text,
                decision=decision,
                reason=reason,
                decided_by_id=principal.user_id,
                decided_at=now,
            )
        else:
            row.decision, row.reason, row.decided_by_id, row.decided_at = decision, reason, principal.user_id, now
        saved.append(row)
    if saved:
        repository.save_rule_decisions(session, saved)
        record_event(
            session,
            actor=actor,
            action="firewall_review.decisions",
            object_type="collector_run",
            object_id=run_id,
            detail={
                "instance": detail.instance.name,
                "decisions": [
                    {"rule": row.rule_index, "label": row.rule_label, "decision": row.decision, "reason": row.reason}
                    for row in saved
                ],
            },
        )
    return saved
