"""Findings: the auditor records and classifies, it and admin maintain the corrective action;
serious collector findings reach the auditor with the controls they affect."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.clock import utcnow
from audit_portal.errors import Forbidden, InvalidInput
from audit_portal.findings import service
from audit_portal.findings.models import Finding, FindingControl
from audit_portal.principals import Actor
from tests.engagements.fixtures import day, principal_of


def _record(workspace, **values):  # type: ignore[no-untyped-def]
    form = service.FindingForm(
        **{
            "title": "Firewall review missed in Q2",
            "category": "minor_nc",
            "control_refs": "8.20",
            **values,
        }
    )
    return service.create(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        form=form,
    )


@pytest.mark.parametrize(
    ("category", "severity"),
    [("major_nc", "high"), ("minor_nc", "medium"), ("observation", "low"), ("ofi", "info")],
)
def test_severity_follows_the_category_unless_set(workspace, category, severity):
    assert _record(workspace, category=category).severity == severity
    assert _record(workspace, category=category, severity="critical").severity == "critical"


def test_a_finding_is_linked_to_its_controls_and_recorded(workspace, session):
    finding = _record(workspace, control_refs="8.20, COM-1", owner="P. Bakker", due_date=day(-30).isoformat())
    linked = session.scalars(select(FindingControl.control_id).where(FindingControl.finding_id == finding.id)).all()
    assert len(linked) == 2
    assert finding.source == "auditor" and finding.engagement_id == workspace.engagement_id and finding.status == "open"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "finding.create")).one()
    assert event.object_id == str(finding.id) and '"controls":["8.20","COM-1"]' in event.detail


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"title": ""}, "title"),
        ({"category": "bad"}, "category"),
        ({"control_refs": ""}, "control_refs"),
        ({"control_refs": "8.20, 77.7"}, "control_refs"),
        ({"due_date": "soon"}, "due_date"),
        ({"severity": "catastrophic"}, "severity"),
    ],
)
def test_bad_findings_are_refused_and_change_nothing(workspace, session, values, location):
    with pytest.raises(InvalidInput) as refused:
        _record(workspace, **values)
    assert location in {e["location"] for e in refused.value.errors}
    assert session.scalars(select(Finding)).all() == []


def test_it_maintains_the_corrective_action_but_not_the_classification(workspace, session, login_as):
    finding = _record(workspace)
    it = login_as(workspace.it)
    url = f"/engagements/{workspace.engagement_id}/findings/{finding.id}/edit"
    form = it.get(url).text
    assert 'name="category"' not in form and 'name="corrective_action"' in form
    saved = it.post(
        url,
        data={
            "owner": "Head of operations",
            "corrective_action": "Quarterly review in the calendar",
            "due_date": day(-20).isoformat(),
            "root_cause": "No deputy for the reviewer",
        },
    )
    assert saved.status_code == 303
    session.refresh(finding)
    assert (finding.owner, finding.root_cause, finding.category, finding.severity) == (
        "Head of operations",
        "No deputy for the reviewer",
        "minor_nc",
        "medium",
    )
    assert it.post(url, data={"category": "major_nc"}).status_code == 403
    session.refresh(finding)
    assert finding.category == "minor_nc"


def test_an_edit_is_audited_before_and_after(workspace, session):
    finding = _record(workspace)
    view = service.get_finding(session, workspace.auditor_principal, workspace.engagement_id, finding.id)[1]
    form = service.form_for(view)
    form.owner = "Head of operations"
    service.update(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        form=form,
    )
    assert finding.status == "open" and finding.owner == "Head of operations"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "finding.update")).one()
    assert '"before":{' in event.detail and '"owner":""' in event.detail
    assert '"owner":"Head of operations"' in event.detail


def test_the_auditor_changes_category_and_the_derived_severity_follows(workspace, session):
    finding = _record(workspace)
    view = service.get_finding(session, workspace.auditor_principal, workspace.engagement_id, finding.id)[1]
    form = service.form_for(view)
    form.category = "major_nc"
    service.update(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        finding_id=finding.id,
        form=form,
    )
    assert finding.severity == "high"


def test_non_auditors_cannot_change_what_the_finding_says(workspace, session):
    finding = _record(workspace)
    view = service.get_finding(session, workspace.it_principal, workspace.engagement_id, finding.id)[1]
    form = service.form_for(view)
    form.control_refs = "8.8"
    with pytest.raises(Forbidden):
        service.update(
            session,
            actor=Actor(workspace.it_principal),
            engagement_id=workspace.engagement_id,
            finding_id=finding.id,
            form=form,
        )


@pytest.mark.parametrize("role", ["it", "admin", "management"])
def test_only_auditors_record_findings(workspace, login_as, role):
    response = login_as(role).post(
        f"/engagements/{workspace.engagement_id}/findings/new",
        data={"title": "x", "category": "ofi", "control_refs": "8.8"},
    )
    assert response.status_code == 403


def _collector_finding(session, evidence, severity="high", status="open"):  # type: ignore[no-untyped-def]
    finding = Finding(
        source="collector",
        key=f"firewall:any-ssh:{severity}:{status}",
        title="tcp/22 open to 0.0.0.0/0",
        severity=severity,
        status=status,
        collector_instance="edge-firewall",
        evidence_id=evidence.id,
        created_at=utcnow(),
    )
    session.add(finding)
    session.flush()
    return finding


def test_serious_collector_findings_reach_the_auditor_with_affected_controls(
    workspace, add_evidence, session, login_as
):
    evidence = add_evidence("COM-1/firewall-review", days_ago=2)
    serious = _collector_finding(session, evidence)
    _collector_finding(session, evidence, severity="medium")
    _collector_finding(session, evidence, status="closed")
    engagement, _, collector = service.engagement_findings(
        session, workspace.auditor_principal, workspace.engagement_id
    )
    assert [v.finding.id for v in collector] == [serious.id]
    assert {c.ref for c in collector[0].controls} == {"8.20", "5.36"}  # COM-1 maps to both
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/findings").text
    assert "tcp/22 open to 0.0.0.0/0" in html and f'href="/engagements/{engagement.id}/controls/8.20"' in html
    control_page = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls/8.20").text
    assert "tcp/22 open to 0.0.0.0/0" in control_page


def test_the_global_list_for_management_and_for_auditors(workspace, add_evidence, session, make_user, login_as):
    mine = _record(workspace, title="Recorded in my engagement")
    other_form = service.FindingForm(title="Recorded elsewhere", category="observation", control_refs="5.1")
    from audit_portal.engagements import scope as engagement_scope
    from audit_portal.engagements import service as engagements

    other_engagement = engagements.create_engagement(
        session,
        actor=Actor(workspace.admin_principal),
        form=engagements.EngagementForm(
            name="Other",
            period_start=day(30).isoformat(),
            period_end=day(0).isoformat(),
            auditor_ids=[make_user("auditor").id],
        ),
    )
    other_auditor = principal_of(engagement_scope.auditors_of(session, [other_engagement.id])[other_engagement.id][0])
    service.create(
        session,
        actor=Actor(other_auditor),
        engagement_id=other_engagement.id,
        form=other_form,
    )
    _collector_finding(session, add_evidence("COM-1/firewall-review"))
    management = login_as("management").get("/findings").text
    assert all(t in management for t in ("Recorded in my engagement", "Recorded elsewhere", "tcp/22 open"))
    auditor = login_as(workspace.auditor).get("/findings").text
    assert "Recorded in my engagement" in auditor and "Recorded elsewhere" not in auditor and "tcp/22 open" in auditor
    filtered = (
        login_as("management").get("/findings?source=auditor&severity=medium", headers={"HX-Request": "true"}).text
    )
    assert (
        filtered.lstrip().startswith('<div id="results">')
        and "Recorded in my engagement" in filtered
        and "Recorded elsewhere" not in filtered
    )
    assert mine.id


def test_the_findings_page_flags_overdue_corrective_actions(workspace, login_as):
    _record(workspace, due_date=day(5).isoformat())
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/findings").text
    assert '<tr class="overdue">' in html
