"""A finding's lifecycle: open -> action planned -> remediated -> verified and closed by an auditor
of the engagement. IT and admin plan and remediate; only the auditor verifies, closes or accepts a
risk, and every step is kept as history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.errors import Conflict, Forbidden, InvalidInput
from audit_portal.findings import lifecycle, service
from audit_portal.findings.models import Finding, FindingEvidence, FindingTransition
from audit_portal.principals import Actor
from tests.engagements.fixtures import day

PLAN = {
    "owner": "Head of operations",
    "due_date": day(-30).isoformat(),
    "root_cause": "The review depended on one engineer.",
    "corrective_action": "Do the missed review; name a deputy.",
}


def _record(workspace, category="minor_nc"):  # type: ignore[no-untyped-def]
    form = service.FindingForm(title="Firewall review missed in Q2", category=category, control_refs="8.20")
    return service.create(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        form=form,
    )


def _url(workspace, finding, step=""):  # type: ignore[no-untyped-def]
    return f"/engagements/{workspace.engagement_id}/findings/{finding.id}" + (f"/{step}" if step else "")


def _history(session, finding):  # type: ignore[no-untyped-def]
    return [
        (t.from_status, t.to_status, t.actor_role)
        for t in session.scalars(
            select(FindingTransition).where(FindingTransition.finding_id == finding.id).order_by(FindingTransition.id)
        )
    ]


def test_the_whole_lifecycle_through_the_pages(workspace, session, login_as, add_evidence):
    finding = _record(workspace)
    proof = add_evidence("COM-1/firewall-review", days_ago=2)
    it, auditor = login_as(workspace.it), login_as(workspace.auditor)

    assert it.post(_url(workspace, finding, "plan"), data=PLAN).status_code == 303
    page = it.get(_url(workspace, finding)).text
    assert (
        "Action planned" in page
        and "Report it remediated" in page
        and 'action="' + _url(workspace, finding, "verify") not in page
    )

    saved = it.post(
        _url(workspace, finding, "remediate"),
        data={"note": "Review done and signed off.", "evidence_ids": f"#{proof.id}"},
    )
    assert saved.status_code == 303
    session.refresh(finding)
    assert finding.status == "remediated" and finding.closed_at is None

    page = auditor.get(_url(workspace, finding)).text
    assert f"evidence #{proof.id}" in page and "Verified effective: close" in page
    assert (
        auditor.post(
            _url(workspace, finding, "verify"), data={"decision": "close", "note": "Saw the signed-off review of Q2."}
        ).status_code
        == 303
    )
    session.refresh(finding)
    assert finding.status == "closed" and finding.closed_at is not None
    assert finding.root_cause == PLAN["root_cause"] and finding.owner == PLAN["owner"]
    assert _history(session, finding) == [
        (None, "open", "auditor"),
        ("open", "action_planned", "it"),
        ("action_planned", "remediated", "it"),
        ("remediated", "closed", "auditor"),
    ]
    assert session.scalars(
        select(FindingEvidence.evidence_id).where(FindingEvidence.finding_id == finding.id)
    ).all() == [proof.id]
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "finding.transition")).all()
    assert len(events) == 3
    history = auditor.get(_url(workspace, finding)).text
    assert "Saw the signed-off review of Q2." in history and "The review depended on one engineer." in history


@pytest.mark.parametrize("role", ["it", "admin"])
@pytest.mark.parametrize("decision", ["close", "accept_risk", "not_effective", "reopen"])
def test_the_organisation_never_verifies_closes_or_accepts_a_risk(
    workspace, session, login_as, add_evidence, role, decision
):
    finding = _record(workspace, category="observation")
    lifecycle.plan(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        plan=lifecycle.Plan(**PLAN),
    )
    proof = add_evidence("COM-1/firewall-review", days_ago=2)
    lifecycle.remediate(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        note="done",
        evidence_ids=[str(proof.id)],
    )
    client = login_as(workspace.it if role == "it" else workspace.admin)
    refused = client.post(_url(workspace, finding, "verify"), data={"decision": decision, "note": "x"})
    assert refused.status_code == 403
    session.refresh(finding)
    assert finding.status == "remediated"
    # Nor through the edit form, which no longer carries a status at all.
    client.post(_url(workspace, finding, "edit"), data={"owner": "Someone", "status": "closed"})
    session.refresh(finding)
    assert finding.status == "remediated"
    with pytest.raises(Forbidden):
        lifecycle.verify(
            session,
            actor=Actor(workspace.it_principal),
            engagement_id=workspace.engagement_id,
            finding_id=finding.id,
            decision=decision,
            note="x",
        )


def test_an_auditor_of_another_engagement_cannot_verify(workspace, session, login_as, make_user, add_evidence):
    finding = _record(workspace)
    lifecycle.plan(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        plan=lifecycle.Plan(**PLAN),
    )
    proof = add_evidence("COM-1/firewall-review", days_ago=2)
    lifecycle.remediate(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        note="done",
        evidence_ids=[str(proof.id)],
    )
    stranger = login_as(make_user("auditor"))
    assert stranger.post(_url(workspace, finding, "verify"), data={"decision": "close", "note": "x"}).status_code == 404
    session.refresh(finding)
    assert finding.status == "remediated"


@pytest.mark.parametrize(
    ("field", "value"),
    [("owner", ""), ("root_cause", " "), ("corrective_action", ""), ("due_date", "next week")],
)
def test_a_plan_needs_owner_due_date_root_cause_and_action(workspace, session, login_as, field, value):
    finding = _record(workspace)
    answer = login_as(workspace.it).post(_url(workspace, finding, "plan"), data={**PLAN, field: value})
    assert answer.status_code == 422
    assert f'id="plan-{field}-error"' in answer.text  # the message stands next to the field
    session.refresh(finding)
    assert finding.status == "open" and _history(session, finding) == [(None, "open", "auditor")]


@pytest.mark.parametrize("evidence_ids", ["", "999999", "abc"])
def test_remediation_needs_existing_evidence(workspace, session, login_as, evidence_ids):
    finding = _record(workspace)
    lifecycle.plan(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        plan=lifecycle.Plan(**PLAN),
    )
    answer = login_as(workspace.it).post(
        _url(workspace, finding, "remediate"), data={"note": "done", "evidence_ids": evidence_ids}
    )
    assert answer.status_code == 422 and 'id="remediate-evidence_ids-error"' in answer.text
    session.refresh(finding)
    assert finding.status == "action_planned"
    assert session.scalars(select(FindingEvidence)).all() == []


def test_steps_out_of_order_are_refused(workspace, session):
    finding = _record(workspace)
    with pytest.raises(Conflict):
        lifecycle.remediate(
            session,
            actor=Actor(workspace.it_principal),
            engagement_id=workspace.engagement_id,
            finding_id=finding.id,
            note="done",
            evidence_ids=["1"],
        )
    with pytest.raises(Conflict):
        lifecycle.verify(
            session,
            actor=Actor(workspace.auditor_principal),
            engagement_id=workspace.engagement_id,
            finding_id=finding.id,
            decision="close",
            note="seen",
        )
    assert session.get(Finding, finding.id).status == "open"


def test_a_nonconformity_is_corrected_never_risk_accepted(workspace, session):
    nonconformity, observation = _record(workspace, "major_nc"), _record(workspace, "observation")
    with pytest.raises(Conflict):
        lifecycle.verify(
            session,
            actor=Actor(workspace.auditor_principal),
            engagement_id=workspace.engagement_id,
            finding_id=nonconformity.id,
            decision="accept_risk",
            note="low impact",
        )
    lifecycle.verify(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        finding_id=observation.id,
        decision="accept_risk",
        note="Management accepted it.",
    )
    assert (nonconformity.status, observation.status) == ("open", "risk_accepted")


def test_verification_needs_a_note_and_a_known_decision(workspace, session):
    finding = _record(workspace)
    for decision, note in (("close", ""), ("approve", "seen")):
        with pytest.raises(InvalidInput):
            lifecycle.verify(
                session,
                actor=Actor(workspace.auditor_principal),
                engagement_id=workspace.engagement_id,
                finding_id=finding.id,
                decision=decision,
                note=note,
            )
    assert _history(session, finding) == [(None, "open", "auditor")]


def test_an_ineffective_remediation_goes_back_and_a_closed_finding_can_reopen(workspace, session, add_evidence):
    finding = _record(workspace)
    proof = add_evidence("COM-1/firewall-review", days_ago=2)
    auditor, it = workspace.auditor_principal, workspace.it_principal
    common = {"engagement_id": workspace.engagement_id, "finding_id": finding.id}
    lifecycle.plan(session, actor=Actor(it), plan=lifecycle.Plan(**PLAN), **common)
    lifecycle.remediate(session, actor=Actor(it), note="done", evidence_ids=[str(proof.id)], **common)
    lifecycle.verify(session, actor=Actor(auditor), decision="not_effective", note="Q3 review missing too.", **common)
    lifecycle.remediate(session, actor=Actor(it), note="Q3 done as well", evidence_ids=[str(proof.id)], **common)
    lifecycle.verify(session, actor=Actor(auditor), decision="close", note="ok", **common)
    lifecycle.verify(session, actor=Actor(auditor), decision="reopen", note="Recurred in Q4.", **common)
    assert [to for _, to, _ in _history(session, finding)] == [
        "open",
        "action_planned",
        "remediated",
        "action_planned",
        "remediated",
        "closed",
        "open",
    ]
    assert finding.closed_at is None
