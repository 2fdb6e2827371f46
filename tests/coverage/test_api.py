"""The coverage read API: what the pages show, for tools holding a token with coverage:read."""

from __future__ import annotations

from datetime import timedelta

from audit_portal.auth import tokens
from audit_portal.authz import Principal
from audit_portal.catalogue import library
from audit_portal.clock import utcnow
from audit_portal.coverage.service import coverage_as_of
from audit_portal.engagements.models import Engagement
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from audit_portal.requests.models import EvidenceRequest
from tests.coverage.conftest import control_id


def bearer(session, scopes):
    issued = tokens.create(session, name="grc", scopes=scopes, days=1, actor=Actor.system("test"))
    session.commit()
    return {"Authorization": f"Bearer {issued.secret}"}


def test_coverage_per_control_with_status_reason_and_switch_offs(catalogue, client, add_evidence):
    today = utcnow().date()
    add_evidence("5.5/authority-contacts", today - timedelta(days=3))
    library.switch_off(
        catalogue,
        key="5.32/ip-rights",
        reason="No third-party software licences are used.",
        actor=Actor(Principal(role="admin", username="admin.x")),
    )
    headers = bearer(catalogue, ["coverage:read"])
    body = client.get("/api/v1/coverage/iso27001-2022", headers=headers).json()
    expected = coverage_as_of(catalogue, "iso27001-2022", as_of=today)
    assert (body["covered"], body["applicable"], body["percent"]) == (
        expected.covered,
        expected.applicable,
        expected.percent,
    )
    assert body["as_of"] == today.isoformat() and body["part"] == "controls" and len(body["controls"]) == 93
    controls = {c["ref"]: c for c in body["controls"]}
    assert controls["5.5"]["status"] == "covered" and controls["5.5"]["status_label"] == "Covered"
    assert controls["5.32"]["status"] == "no_requirement"
    assert controls["5.32"]["switched_off"][0]["reason"] == "No third-party software licences are used."
    assert controls["8.8"]["requirements"][0]["reason"].startswith("requirement ")


def test_clauses_and_a_past_moment(catalogue, client, add_evidence):
    today = utcnow().date()
    add_evidence("C.9.3/management-review", today - timedelta(days=10))
    headers = bearer(catalogue, ["coverage:read"])
    now = client.get("/api/v1/coverage/iso27001-2022?part=clauses", headers=headers).json()
    assert {c["ref"]: c["status"] for c in now["controls"]}["C.9.3"] == "covered"
    before = client.get(
        f"/api/v1/coverage/iso27001-2022?part=clauses&as_of={today - timedelta(days=20)}", headers=headers
    ).json()
    assert {c["ref"]: c["status"] for c in before["controls"]}["C.9.3"] == "missing"


def test_engagement_findings_and_requests(catalogue, client, make_user):
    today = utcnow().date()
    engagement = Engagement(
        name="Surveillance",
        framework_key="iso27001-2022",
        period_start=today - timedelta(days=90),
        period_end=today,
        created_at=utcnow(),
    )
    catalogue.add(engagement)
    catalogue.flush()
    auditor = make_user("auditor")
    catalogue.add(
        Finding(
            source="auditor",
            title="Access review missing",
            severity="medium",
            category="minor_nc",
            engagement_id=engagement.id,
            status="action_planned",
            created_at=utcnow(),
        )
    )
    catalogue.add(
        EvidenceRequest(
            engagement_id=engagement.id,
            question="Show the restore test",
            control_id=control_id(catalogue, "iso27001-2022", "8.13"),
            due_date=today - timedelta(days=1),
            state="open",
            created_by=auditor.id,
            created_at=utcnow(),
        )
    )
    catalogue.commit()
    headers = bearer(catalogue, ["coverage:read"])
    findings = client.get(f"/api/v1/engagements/{engagement.id}/findings", headers=headers).json()
    assert [(f["title"], f["status_label"]) for f in findings] == [("Access review missing", "Action planned")]
    requests = client.get(f"/api/v1/engagements/{engagement.id}/requests", headers=headers).json()
    assert [(r["question"], r["state_label"], r["overdue"]) for r in requests] == [
        ("Show the restore test", "Open", True)
    ]
    engagement_figure = client.get(f"/api/v1/coverage/iso27001-2022?engagement={engagement.id}", headers=headers).json()
    assert engagement_figure["period_start"] == engagement.period_start.isoformat()


def test_errors_are_problem_json(catalogue, client):
    pushing = bearer(catalogue, ["backup-dc1"])
    refused = client.get("/api/v1/coverage/iso27001-2022", headers=pushing)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    reading = bearer(catalogue, ["coverage:read"])
    assert client.get("/api/v1/coverage/nope", headers=reading).status_code == 404
    future = client.get(f"/api/v1/coverage/iso27001-2022?as_of={utcnow().date() + timedelta(days=2)}", headers=reading)
    assert future.status_code == 422 and future.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/engagements/999999/findings", headers=reading).status_code == 404
    assert client.get("/api/v1/coverage/iso27001-2022").status_code == 401


def test_the_api_is_in_the_openapi_description(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/api/v1/coverage/{framework}" in paths
    assert "application/problem+json" in str(paths["/api/v1/coverage/{framework}"]["get"]["responses"]["403"])
