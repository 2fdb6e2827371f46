"""Decisions on security advisories (ORG-2) through the run page: an it user records one, the
next run reads it and the advisory stops being an open finding; bad input changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.collection import service
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from collectors.options import HOST
from tests.collectors.part3 import RECORDINGS
from tests.support import reading_recordings

pytestmark = pytest.mark.usefixtures("catalogue")
CSAF = RECORDINGS / "csaf"
FOLDER = CSAF / "provider" / ".well-known" / "csaf" / "white"


@pytest.fixture
def advisories(session, settings):  # type: ignore[no-untyped-def]
    # wide windows so the November 2026 test advisories count whatever day the test runs
    spec = service.InstanceSpec(
        name="ncsc",
        collector="advisories",
        timeout_seconds=60,
        config={
            "sources": [{"type": "csaf-folder", "path": str(FOLDER)}],
            "inventory": [
                {"host": "deb1", "dpkg_query_path": str(CSAF / "dpkg-query-deb1.txt")},
                {"host": "edge-fw", "cpes": ["cpe:2.3:o:fortinet:fortios:7.4.3:*:*:*:*:*:*:*"]},
            ],
            "period_days": 365,
            "lookback_days": 730,
            "max_open_days": 0,
        },
    )
    return service.save_instance(
        session, spec, settings=reading_recordings(settings), origin=HOST, actor=Actor.system("test")
    )


def run_now(client) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/collectors/ncsc/run")
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def open_keys(session) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.key for f in session.exec(select(Finding).where(Finding.status != "closed")).all()}


def test_a_decision_closes_the_advisory_finding(login_as, session, advisories):
    client = login_as("it")
    run_id = run_now(client)
    assert {"advisory-open:NCSC-2026-0398", "advisory-open:NCSC-2026-0412"} <= open_keys(session)
    page = client.get(f"/runs/{run_id}").text
    assert "Decisions on advisories" in page and '<option value="NCSC-2026-0398">' in page

    decided = client.post(
        f"/runs/{run_id}/advisory-decisions",
        data={
            "advisory": "NCSC-2026-0398",
            "status": "mitigated",
            "note": "SSL-VPN switched off on the edge firewall until the upgrade window.",
        },
    )
    assert decided.status_code == 303, decided.text
    stored = json.loads(service.get_instance(session, "ncsc").config_json)["decisions"]
    assert [(d["advisory"], d["status"], d["by"]) for d in stored] == [
        ("NCSC-2026-0398", "mitigated", client.user.username)
    ]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "advisory.decision")).one()
    assert json.loads(event.detail)["advisory"] == "NCSC-2026-0398"

    second = run_now(client)
    assert "advisory-open:NCSC-2026-0398" not in open_keys(session)
    assert "advisory-open:NCSC-2026-0412" in open_keys(session)
    assert "SSL-VPN switched off" in client.get(f"/runs/{second}").text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"advisory": "NCSC-2026-0398", "status": "ignored", "note": "x"}, "must be one of"),
        ({"advisory": "NCSC-2026-0398", "status": "mitigated", "note": "  "}, "needs its reasoning"),
        ({"advisory": "<script>", "status": "patched", "note": ""}, "tracking id"),
    ],
)
def test_bad_decisions_change_nothing(login_as, session, advisories, form, message):
    client = login_as("it")
    run_id = run_now(client)
    before = service.get_instance(session, "ncsc").config_json
    refused = client.post(f"/runs/{run_id}/advisory-decisions", data=form)
    assert refused.status_code == 422 and message in refused.text
    assert service.get_instance(session, "ncsc").config_json == before


def test_only_it_decides(login_as, advisories):
    run_id = run_now(login_as("it"))
    for role in ("admin", "auditor", "management"):
        answer = login_as(role).post(
            f"/runs/{run_id}/advisory-decisions", data={"advisory": "NCSC-2026-0398", "status": "patched"}
        )
        assert answer.status_code == 403, role


def test_decisions_only_for_advisories_instances(login_as, session, settings):

    spec = service.InstanceSpec(
        name="de",
        collector="disk-encryption",
        timeout_seconds=30,
        config={
            "sources": [
                {
                    "type": "fdesetup",
                    "device": "mac-1",
                    "path": str(RECORDINGS / "disk-encryption" / "fdesetup-status-on.txt"),
                }
            ]
        },
    )
    service.save_instance(session, spec, settings=reading_recordings(settings), origin=HOST, actor=Actor.system("test"))
    client = login_as("it")
    run_id = int(client.post("/collectors/de/run").headers["location"].rsplit("/", 1)[1])
    refused = client.post(
        f"/runs/{run_id}/advisory-decisions", data={"advisory": "NCSC-2026-0398", "status": "patched"}
    )
    assert refused.status_code == 422 and "not an advisories instance" in refused.text
