"""An open evidence request answered from the upload page: the upload links to the request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from audit_portal.clock import utcnow
from audit_portal.evidence.models import Evidence
from audit_portal.principals import Actor
from audit_portal.requests import service as requests_service
from audit_portal.requests.models import EvidenceRequest, EvidenceRequestItem
from tests.engagements.fixtures import catalogue, workspace  # noqa: F401
from tests.evidence.conftest import multipart


def test_upload_answers_an_open_request(workspace, login_as, session):  # noqa: F811
    asked = requests_service.create(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        subject="BCM-1/restore-test",
        question="Please provide the latest restore test report.",
        due_date=(utcnow().date() + timedelta(days=14)).isoformat(),
    )
    session.commit()
    it = login_as(workspace.it)
    form = it.get("/evidence/upload", params={"request": asked.id})
    assert form.status_code == 200
    assert "latest restore test report" in form.text
    assert 'value="BCM-1/restore-test" checked' in form.text

    body, headers = multipart(
        ("title", None, b"Restore test Q4"),
        ("links", None, b"BCM-1/restore-test"),
        ("request_id", None, str(asked.id).encode()),
        ("files", "restore-q4.txt", b"restore test passed"),
    )
    response = it.post("/evidence/upload", content=body, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 200, response.text
    evidence = session.scalars(select(Evidence)).one()
    item = session.scalars(select(EvidenceRequestItem)).one()
    assert (item.request_id, item.evidence_id) == (asked.id, evidence.id)
    assert session.get(EvidenceRequest, asked.id).state == requests_service.STATE_ANSWERED


def test_upload_for_an_unknown_request_stores_nothing(workspace, login_as, session, store):  # noqa: F811
    it = login_as(workspace.it)
    body, headers = multipart(("request_id", None, b"9999"), ("files", "r.txt", b"report"))
    response = it.post("/evidence/upload", content=body, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 404
    assert session.scalars(select(Evidence)).first() is None and list(store.iter_keys()) == []
