"""Engagements: the admin's form, and who may see which engagement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.clock import utcnow
from audit_portal.engagements import service
from audit_portal.engagements.models import Engagement, EngagementAuditor, EngagementScope
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.principals import Actor
from tests.engagements.fixtures import principal_of


def _form(**values):  # type: ignore[no-untyped-def]
    today = utcnow().date()
    defaults = {
        "name": "Certification audit",
        "framework_key": "iso27001-2022",
        "period_start": (today - timedelta(days=90)).isoformat(),
        "period_end": today.isoformat(),
    }
    return {**defaults, **values}


def test_admin_creates_an_engagement_with_auditors_and_scope(catalogue, make_user, login_as, session):
    auditor = make_user("auditor")
    admin = login_as("admin")
    response = admin.post("/engagements/new", data={**_form(scope_refs="8.8, 8.13"), "auditor_ids": [str(auditor.id)]})
    assert response.status_code == 303
    engagement = session.scalars(select(Engagement).where(Engagement.name == "Certification audit")).one()
    assert response.headers["location"] == f"/engagements/{engagement.id}/controls"
    assert session.scalars(
        select(EngagementAuditor.user_id).where(EngagementAuditor.engagement_id == engagement.id)
    ).all() == [auditor.id]
    assert (
        len(session.scalars(select(EngagementScope).where(EngagementScope.engagement_id == engagement.id)).all()) == 2
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "engagement.create")).one()
    assert event.object_id == str(engagement.id) and event.actor == admin.user.username


@pytest.mark.parametrize(
    ("values", "location"),
    [
        ({"name": ""}, "name"),
        ({"framework_key": "annex2"}, "framework_key"),
        ({"period_start": "2026-05-01", "period_end": "2026-04-01"}, "period_end"),
        ({"period_start": "yesterday"}, "period_start"),
        ({"scope_refs": "8.8, 99.9"}, "scope_refs"),
    ],
)
def test_bad_engagement_input_is_refused_and_changes_nothing(catalogue, session, make_user, values, location):
    admin = principal_of(make_user("admin"))
    with pytest.raises(InvalidInput) as refused:
        service.create_engagement(session, form=service.EngagementForm(**_form(**values)), actor=Actor(admin))
    assert location in {e["location"] for e in refused.value.errors}
    assert session.scalars(select(Engagement)).all() == []


def test_only_auditor_accounts_can_be_assigned(catalogue, session, make_user):
    admin = principal_of(make_user("admin"))
    it_user = make_user("it")
    with pytest.raises(InvalidInput) as refused:
        service.create_engagement(
            session,
            form=service.EngagementForm(**_form(), auditor_ids=[it_user.id]),
            actor=Actor(admin),
        )
    assert refused.value.errors[0]["location"] == "auditor_ids"


def test_the_form_shows_errors_in_the_page(catalogue, login_as):
    response = login_as("admin").post(
        "/engagements/new", data=_form(period_end="2020-01-01", period_start="2021-01-01")
    )
    assert response.status_code == 422
    assert "The period ends before it starts." in response.text


def test_editing_replaces_auditors_and_records_before_and_after(workspace, make_user, login_as, session):
    other = make_user("auditor")
    admin = login_as(workspace.admin)
    form = service.form_for(session, session.get(Engagement, workspace.engagement_id))
    data = {
        "name": "Renamed",
        "framework_key": form.framework_key,
        "period_start": form.period_start,
        "period_end": form.period_end,
        "auditor_ids": [str(other.id)],
    }
    assert admin.post(f"/engagements/{workspace.engagement_id}/edit", data=data).status_code == 303
    assert session.get(Engagement, workspace.engagement_id).name == "Renamed"
    assert service.may_see(session, principal_of(other), session.get(Engagement, workspace.engagement_id))
    assert not service.may_see(session, workspace.auditor_principal, session.get(Engagement, workspace.engagement_id))
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "engagement.update")).one()
    assert '"Renamed"' in event.detail and "Surveillance audit" in event.detail


ENGAGEMENT_PAGES = [
    "",
    "/controls",
    "/measures",
    "/controls/8.8",
    "/requests",
    "/findings",
    "/samples",
    "/requests/new",
    "/findings/new",
]


@pytest.mark.parametrize("page", ENGAGEMENT_PAGES)
def test_an_auditor_not_assigned_gets_404_as_if_it_did_not_exist(workspace, make_user, login_as, page):
    outsider = login_as(make_user("auditor"))
    response = outsider.get(f"/engagements/{workspace.engagement_id}{page}")
    assert response.status_code == 404
    missing = outsider.get(f"/engagements/{workspace.engagement_id + 1000}{page}")
    assert missing.status_code == 404


def test_an_unassigned_auditor_cannot_review_ask_or_sample(workspace, add_evidence, make_user, login_as, session):
    evidence = add_evidence("OPS-2/patches")
    outsider = login_as(make_user("auditor"))
    eid = workspace.engagement_id
    assert (
        outsider.post(f"/engagements/{eid}/evidence/{evidence.id}/review", data={"decision": "accept"}).status_code
        == 404
    )
    assert (
        outsider.post(
            f"/engagements/{eid}/requests/new",
            data={"subject": "8.8", "question": "q", "due_date": "2099-01-01"},
        ).status_code
        == 404
    )
    assert (
        outsider.post(f"/engagements/{eid}/samples", data={"subject": "OPS-2/patches", "size": "1"}).status_code == 404
    )


@pytest.mark.parametrize("role", ["it", "admin"])
def test_it_and_admin_see_every_engagement(workspace, login_as, role):
    client = login_as(role)
    assert client.get(f"/engagements/{workspace.engagement_id}/controls").status_code == 200
    assert "Surveillance audit" in client.get("/engagements").text


def test_the_list_shows_an_auditor_only_its_engagements(workspace, make_user, login_as, session):
    admin = workspace.admin_principal
    service.create_engagement(
        session,
        form=service.EngagementForm(**_form(name="Someone else's audit")),
        actor=Actor(admin),
    )
    assigned = login_as(workspace.auditor).get("/engagements").text
    assert (
        "Surveillance audit" in assigned
        and "Someone else&#39;s audit" not in assigned
        and "Someone else's audit" not in assigned
    )
    with pytest.raises(NotFound):
        service.get_engagement(session, principal_of(make_user("auditor")), workspace.engagement_id)


def test_management_may_not_open_engagements(workspace, login_as):
    assert login_as("management").get(f"/engagements/{workspace.engagement_id}/controls").status_code == 403


def test_an_auditor_outside_its_access_window_sees_nothing(workspace, session):
    auditor = workspace.auditor
    auditor.valid_until = utcnow() - timedelta(minutes=1)
    session.flush()
    with pytest.raises(NotFound):
        service.get_engagement(session, principal_of(auditor), workspace.engagement_id)
    assert service.visible_engagements(session, principal_of(auditor)) == []
    auditor.valid_until, auditor.valid_from = (
        utcnow() + timedelta(days=5),
        utcnow() + timedelta(days=1),
    )
    session.flush()
    assert service.visible_engagements(session, principal_of(auditor)) == []
