"""The collector pages, "run now", the instance form, and the sign-off that makes a firewall
review count for COM-1."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.collection import service
from audit_portal.collection.models import CollectorRun
from audit_portal.collection.secrets import MASK
from audit_portal.coverage.service import compute_coverage
from audit_portal.evidence.models import EvidenceSignoff
from audit_portal.principals import Actor

pytestmark = pytest.mark.usefixtures("plugin_path", "catalogue")


@pytest.fixture
def instance(session, settings):  # type: ignore[no-untyped-def]
    spec = service.InstanceSpec(
        name="tiny-one", collector="tiny", timeout_seconds=30, config={"items": ["a"], "token": "page-secret-value"}
    )
    return service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))


def run_now(client, name="tiny-one"):  # type: ignore[no-untyped-def]
    response = client.post(f"/collectors/{name}/run")
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_it_runs_an_instance_now_and_sees_its_run(login_as, instance, session):
    client = login_as("it")
    run_id = run_now(client)
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "tiny 0.1.0 started" in page.text and "Item a present" in page.text
    assert page.text.count('href="/evidence/') == 3
    listing = client.get("/collectors").text
    assert "tiny-one" in listing and f'href="/runs/{run_id}"' in listing
    detail = client.get("/collectors/tiny-one").text
    assert MASK in detail and "page-secret-value" not in detail
    assert session.get(CollectorRun, run_id).trigger == "manual"


def test_management_may_not_see_collectors_and_auditors_may_not_run(login_as, instance):
    assert login_as("management").get("/collectors").status_code == 403
    assert login_as("auditor").post("/collectors/tiny-one/run").status_code == 403


def test_an_auditor_view_is_an_audit_event(login_as, instance, session):
    auditor = login_as("auditor")
    assert auditor.get("/collectors/tiny-one").status_code == 200
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "collector_instance.view")).all()
    assert [e.actor for e in events] == [auditor.user.username]


def test_sign_off_makes_the_review_count_for_com1(login_as, instance, session):
    client = login_as("it")
    run_id = run_now(client)

    def com1_status() -> str:
        report = compute_coverage(
            session, framework_key="annex2", period_start=date.today() - timedelta(days=30), period_end=date.today()
        )
        control = next(c for c in report.controls if c.ref == "COM-1")
        return next(r.status for r in control.requirements if r.key == "COM-1/firewall-review")

    assert com1_status() == "failing"  # the run's open high finding outranks the missing sign-off
    page = client.get(f"/runs/{run_id}").text
    assert "awaiting sign-off" in page and 'action="/runs/' in page
    refused = client.post(f"/runs/{run_id}/signoff", data={"remark": "  "})
    assert refused.status_code == 422 and "Write a remark" in refused.text
    done = client.post(f"/runs/{run_id}/signoff", data={"remark": "Rules reviewed, item a accepted."})
    assert done.status_code == 303
    signoffs = session.exec(select(EvidenceSignoff)).all()
    assert len(signoffs) == 3 and {s.signed_by_id for s in signoffs} == {client.user.id}
    assert "signed off" in client.get(f"/runs/{run_id}").text
    assert client.post(f"/runs/{run_id}/signoff", data={"remark": "again"}).status_code == 409
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "collector_run.signoff")).first()


def test_sign_off_turns_awaiting_into_met(login_as, session, settings):
    spec = service.InstanceSpec(name="clean", collector="tiny", timeout_seconds=30, config={"items": []})
    service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))
    client = login_as("it")
    run_id = run_now(client, "clean")

    def status() -> str:
        report = compute_coverage(
            session, framework_key="annex2", period_start=date.today() - timedelta(days=30), period_end=date.today()
        )
        control = next(c for c in report.controls if c.ref == "COM-1")
        return next(r.status for r in control.requirements if r.key == "COM-1/firewall-review")

    assert status() == "awaiting_signoff"
    client.post(f"/runs/{run_id}/signoff", data={"remark": "No rule needs a change."})
    assert status() == "met"


def test_admin_may_not_sign_off(login_as, instance):
    client = login_as("it")
    run_id = run_now(client)
    assert login_as("admin").post(f"/runs/{run_id}/signoff", data={"remark": "x"}).status_code == 403


def test_the_form_creates_and_edits_an_instance_keeping_masked_secrets(login_as, session, settings):
    client = login_as("admin")
    assert client.get("/collectors/new").status_code == 200
    created = client.post(
        "/collectors",
        data={
            "name": "from-form",
            "collector": "tiny",
            "schedule": "15 3 * * *",
            "timeout_seconds": "60",
            "enabled": "yes",
            "config": "items: [x]\ntoken: form-secret-value\n",
        },
    )
    assert created.status_code == 303, created.text
    edit = client.get("/collectors/from-form/edit").text
    assert MASK in edit and "form-secret-value" not in edit
    saved = client.post(
        "/collectors",
        data={
            "name": "from-form",
            "existing": "from-form",
            "collector": "tiny",
            "schedule": "0 4 * * *",
            "timeout_seconds": "60",
            "config": f"items: [y]\ntoken: '{MASK}'\n",
        },
    )
    assert saved.status_code == 303
    instance = service.get_instance(session, "from-form")
    assert (instance.schedule, instance.enabled) == ("0 4 * * *", False)
    config = service.config_of(instance, service.collector_for("tiny", settings), settings)
    assert config.token.get_secret_value() == "form-secret-value" and config.items == ["y"]
    bad = client.post("/collectors", data={"name": "bad", "collector": "tiny", "config": "items: 3"})
    assert bad.status_code == 422 and "config.items" in bad.text


def test_a_run_lists_the_findings_it_saw_even_when_later_runs_saw_them_again(login_as, instance, session, settings):
    client = login_as("it")
    first = run_now(client)
    second = run_now(client)
    for run_id in (first, second):
        page = client.get(f"/runs/{run_id}").text
        assert "Item a present" in page, run_id
        assert "1 finding seen by this run" in page
        assert "No finding was seen in this run" not in page
    # a later run that no longer sees it closes it; the earlier runs still list it, as closed since
    service.save_instance(
        session,
        service.InstanceSpec(
            name="tiny-one", collector="tiny", timeout_seconds=30, config={"items": [], "token": "page-secret-value"}
        ),
        settings=settings,
        actor=Actor.system("test"),
    )
    third = run_now(client)
    assert "closed since" in client.get(f"/runs/{first}").text
    assert "No finding was seen in this run" in client.get(f"/runs/{third}").text
