"""Review: the auditor accepts or rejects evidence for the engagement; rejected evidence stops
counting; every review is an audit event."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.coverage.service import compute_coverage
from audit_portal.engagements import service
from audit_portal.engagements.models import Engagement, EvidenceReview
from audit_portal.errors import InvalidInput
from audit_portal.principals import Actor

HTMX = {"HX-Request": "true"}


def _status_of_8_8(session, engagement: Engagement) -> str:  # type: ignore[no-untyped-def]
    report = compute_coverage(
        session,
        framework_key=engagement.framework_key,
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
    )
    return next(c for c in report.controls if c.ref == "8.8").status


def test_a_rejected_item_stops_counting(workspace, add_evidence, session, login_as):
    evidence = add_evidence("OPS-2/patches", days_ago=1)
    engagement = session.get(Engagement, workspace.engagement_id)
    assert _status_of_8_8(session, engagement) == "covered"
    response = login_as(workspace.auditor).post(
        f"/engagements/{engagement.id}/evidence/{evidence.id}/review",
        data={
            "decision": "reject",
            "comment": "Covers one host of three",
            "back": f"/engagements/{engagement.id}/controls/8.8",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == f"/engagements/{engagement.id}/controls/8.8"
    assert _status_of_8_8(session, engagement) == "missing"
    review = session.get(EvidenceReview, (engagement.id, evidence.id))
    assert (
        review.status == "rejected"
        and review.comment == "Covers one host of three"
        and review.reviewer_id == workspace.auditor.id
    )


def test_every_review_is_an_audit_event_with_before_and_after(workspace, add_evidence, session):
    evidence = add_evidence("OPS-2/patches")
    auditor = workspace.auditor_principal
    service.review_evidence(
        session,
        actor=Actor(auditor),
        engagement_id=workspace.engagement_id,
        evidence_id=evidence.id,
        decision="reject",
        comment="Unsigned",
    )
    service.review_evidence(
        session,
        actor=Actor(auditor),
        engagement_id=workspace.engagement_id,
        evidence_id=evidence.id,
        decision="accept",
        comment="Signed copy received",
    )
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("evidence.review.%")).order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["evidence.review.rejected", "evidence.review.accepted"]
    assert '"before":{"comment":"Unsigned","status":"rejected"}' in events[1].detail
    assert all(e.object_id == str(evidence.id) and e.actor == workspace.auditor.username for e in events)
    assert session.get(EvidenceReview, (workspace.engagement_id, evidence.id)).status == "accepted"


def test_a_rejection_needs_a_comment(workspace, add_evidence, session):
    evidence = add_evidence("OPS-2/patches")
    with pytest.raises(InvalidInput) as refused:
        service.review_evidence(
            session,
            actor=Actor(workspace.auditor_principal),
            engagement_id=workspace.engagement_id,
            evidence_id=evidence.id,
            decision="reject",
            comment="  ",
        )
    assert refused.value.errors[0]["location"] == "comment"
    assert session.get(EvidenceReview, (workspace.engagement_id, evidence.id)) is None


def test_htmx_review_swaps_the_row(workspace, add_evidence, login_as):
    evidence = add_evidence("OPS-2/patches")
    client = login_as(workspace.auditor)
    url = f"/engagements/{workspace.engagement_id}/evidence/{evidence.id}/review"
    accepted = client.post(url, data={"decision": "accept", "newest": "1"}, headers=HTMX)
    assert accepted.status_code == 200
    assert accepted.text.lstrip().startswith('<tr class="evidence-row">') and ">Accepted</span>" in accepted.text
    assert ">newest</span>" in accepted.text
    refused = client.post(url, data={"decision": "reject"}, headers=HTMX)
    assert (
        refused.status_code == 422
        and "Say why the evidence is rejected." in refused.text
        and ">Accepted</span>" in refused.text
    )


def test_reviews_are_per_engagement(workspace, add_evidence, session, make_user):
    from tests.engagements.fixtures import principal_of

    evidence = add_evidence("OPS-2/patches")
    other_form = service.form_for(session, session.get(Engagement, workspace.engagement_id))
    other_form.name = "Another audit"
    other = service.create_engagement(session, form=other_form, actor=Actor(workspace.admin_principal))
    service.review_evidence(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        evidence_id=evidence.id,
        decision="reject",
        comment="No",
    )
    assert _status_of_8_8(session, session.get(Engagement, workspace.engagement_id)) == "missing"
    assert _status_of_8_8(session, other) == "covered"
    assert principal_of(workspace.auditor).role == "auditor"


@pytest.mark.parametrize("role", ["it", "admin", "management"])
def test_only_auditors_review(workspace, add_evidence, login_as, role):
    evidence = add_evidence("OPS-2/patches")
    response = login_as(role).post(
        f"/engagements/{workspace.engagement_id}/evidence/{evidence.id}/review",
        data={"decision": "accept"},
    )
    assert response.status_code == 403


def test_reviewing_unknown_evidence_is_404(workspace, login_as):
    response = login_as(workspace.auditor).post(
        f"/engagements/{workspace.engagement_id}/evidence/424242/review",
        data={"decision": "accept"},
    )
    assert response.status_code == 404
