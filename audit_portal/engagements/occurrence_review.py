"""Review of whole occurrences and the check that a requirement proves a control: the parts of
occurrence handling that build on the engagement service (kept apart so the service can use
``occurrences`` without an import cycle)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from audit_portal.coverage.service import RequirementCoverage, compute_coverage
from audit_portal.engagements import occurrences, scope
from audit_portal.engagements.models import REVIEW_REJECTED, Engagement
from audit_portal.engagements.service import (
    COMMENT_MAX_LENGTH,
    DECISIONS,
    find_control,
    get_engagement,
    review_evidence,
)
from audit_portal.errors import InvalidInput
from audit_portal.i18n import N_, Sentences
from audit_portal.principals import Actor


def check_review_input(decision: str, comment: str) -> None:
    """Raise InvalidInput (errors per field) unless the decision and comment are acceptable."""
    status = DECISIONS.get((decision or "").strip().lower())
    note = (comment or "").strip()
    errors: list[dict[str, Any]] = []
    if status is None:
        errors.append({"location": "decision", "message": N_("Choose accept or reject.")})
    if status == REVIEW_REJECTED and not note:
        errors.append({"location": "comment", "message": N_("Say why the evidence is rejected.")})
    if len(note) > COMMENT_MAX_LENGTH:
        errors.append(
            {
                "location": "comment",
                "message": N_("Keep the comment under %(most)s characters."),
                "values": {"most": COMMENT_MAX_LENGTH},
            }
        )
    if errors:
        raise InvalidInput("%(reasons)s", values={"reasons": Sentences(errors)}, errors=errors)


def review_occurrences(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    requirement_id: int,
    anchor_ids: list[int],
    decision: str,
    comment: str,
) -> int:
    """Accept or reject whole occurrences with one decision and one comment. Each item gets its
    review and its audit event, exactly as when reviewed alone. Returns the number of items."""
    principal = actor.principal
    check_review_input(decision, comment)
    if not anchor_ids:
        raise InvalidInput(
            N_("Select at least one occurrence."),
            errors=[{"location": "occurrences", "message": N_("Select at least one occurrence.")}],
        )
    engagement = get_engagement(session, principal, engagement_id)
    evidence_ids: list[int] = []
    for anchor_id in dict.fromkeys(anchor_ids):
        for item in occurrences.items_of(session, engagement, requirement_id, anchor_id):
            if item.evidence.id not in evidence_ids:
                evidence_ids.append(item.evidence.id)
    for evidence_id in evidence_ids:
        review_evidence(
            session,
            actor=actor,
            engagement_id=engagement_id,
            evidence_id=evidence_id,
            decision=decision,
            comment=comment,
        )
    return len(evidence_ids)


def requirement_of_control(
    session: Session, engagement: Engagement, ref: str, requirement_id: int
) -> RequirementCoverage:
    """The requirement as one of the control's (or measure's), with its coverage; 404 when the
    requirement does not prove that control."""
    control = find_control(session, engagement, ref)
    report = compute_coverage(
        session,
        framework_key=control.framework_key,
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
        control_ids={control.id},
    )
    for requirement in report.controls[0].requirements:
        if requirement.requirement_id == requirement_id:
            return requirement
    raise scope.OutOfScope(N_("%(ref)s has no requirement %(id)s."), values={"ref": ref, "id": requirement_id})
