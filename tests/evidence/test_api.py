"""The JSON API: collectors push with a service token, people read; problem JSON for errors."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from sqlalchemy import func, select

from audit_portal.evidence.models import Evidence
from tests.evidence.conftest import COLLECTOR_INSTANCE, metadata, multipart, push_body

REPORT = b"date,host,status\n2026-11-27,nas-1,ok\n2026-11-28,nas-1,ok\n"


def records(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Evidence))


def test_push_creates_a_record_and_answers_with_it(push_client, session, store):
    body, headers = push_body(
        metadata(requirements=["PHY-3/backup"], period_from="2026-11-27", period_to="2026-11-28"), "backup.csv", REPORT
    )
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/api/v1/evidence/{item['id']}"
    assert item["sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert item["content_type"] == "text/csv"
    assert item["source_kind"] == "api" and item["collector_instance"] == COLLECTOR_INSTANCE
    assert item["requirements"] == ["PHY-3/backup"]
    assert store.exists(f"sha256/{item['sha256'][:2]}/{item['sha256'][2:4]}/{item['sha256']}")


def test_push_for_a_collector_outside_the_token_scope_is_forbidden(push_client, session, store):
    body, headers = push_body(metadata(collector_instance="firewall-edge"), "rules.txt", b"accept all\n")
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert records(session) == 0 and list(store.iter_keys()) == []


def test_metadata_after_the_file_is_refused_before_storing(push_client, session, store):
    body, headers = multipart(("file", "r.txt", b"content"), ("metadata", None, json.dumps(metadata()).encode()))
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 422
    assert "metadata part before the file" in response.json()["detail"]
    assert list(store.iter_keys()) == []


def test_bad_inputs_get_problem_json_and_change_nothing(push_client, session, store):
    cases = [
        (metadata(), "empty.txt", b"", 422, "empty"),
        (metadata(), "../../etc/cron.d/x", b"data", 422, "path parts"),
        (metadata(), "tab\there.txt", b"data", 422, "control characters"),
        (metadata(), "tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 32, 422, "program or script"),
        (metadata(controls=["iso27001-2022:99.9"]), "r.txt", b"data", 422, "'iso27001-2022:99.9'"),
        (metadata(period_from="2026-05-01", period_to="2026-04-01"), "r.txt", b"data", 422, "before it starts"),
        ({"collector_instance": COLLECTOR_INSTANCE}, "r.txt", b"data", 422, "metadata.title"),
        (metadata(unknown_field=1), "r.txt", b"data", 422, "unknown_field"),
    ]
    for meta, filename, content, status, words in cases:
        body, headers = push_body(meta, filename, content)
        response = push_client.post("/api/v1/evidence", content=body, headers=headers)
        assert response.status_code == status, (filename, response.text)
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == status and words in problem["detail"], problem
    assert records(session) == 0
    assert list(store.iter_keys()) == []


def test_over_the_limit_is_413(push_client, app, session, store):
    app.state.settings.max_upload_bytes = 1000
    body, headers = push_body(metadata(), "big.txt", b"a" * 1001)
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert records(session) == 0 and list(store.iter_keys()) == []
    body, headers = push_body(metadata(), "fits.txt", b"a" * 1000)
    assert push_client.post("/api/v1/evidence", content=body, headers=headers).status_code == 201


def test_not_multipart_is_refused(push_client):
    response = push_client.post("/api/v1/evidence", json=metadata())
    assert response.status_code == 422
    assert "multipart/form-data" in response.json()["detail"]


def test_token_cannot_read_and_anonymous_gets_401(push_client, client):
    assert push_client.get("/api/v1/evidence").status_code == 403
    assert client.get("/api/v1/evidence").status_code == 401
    body, headers = push_body(metadata(), "r.txt", b"data")
    assert client.post("/api/v1/evidence", content=body, headers=headers).status_code == 401


def test_auditor_reads_the_api_but_cannot_push(push_client, login_as, session, engaged_auditor):
    body, headers = push_body(metadata(collected_at="2026-03-10T08:00:00Z"), "r.txt", b"report data\n")
    created = push_client.post("/api/v1/evidence", content=body, headers=headers).json()
    earlier_body, earlier_headers = push_body(metadata(collected_at="2025-06-01T08:00:00Z"), "old.txt", b"older\n")
    earlier = push_client.post("/api/v1/evidence", content=earlier_body, headers=earlier_headers).json()
    auditor = login_as(engaged_auditor(date(2026, 1, 1), date(2026, 12, 31)))
    listed = auditor.get("/api/v1/evidence")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    one = auditor.get(f"/api/v1/evidence/{created['id']}")
    assert one.status_code == 200 and one.json()["sha256"] == created["sha256"]
    # Outside the periods of the auditor's engagements, evidence does not exist for them.
    assert auditor.get(f"/api/v1/evidence/{earlier['id']}").status_code == 404
    assert login_as("auditor").get("/api/v1/evidence").json()["items"] == []
    assert login_as("it").get(f"/api/v1/evidence/{earlier['id']}").status_code == 200
    refused = auditor.post("/api/v1/evidence", content=body, headers=headers)
    assert refused.status_code == 403
    assert records(session) == 2


def test_list_filters_by_requirement_control_source_and_period(push_client, login_as):
    def push(title: str, **meta) -> int:  # type: ignore[no-untyped-def]
        body, headers = push_body(metadata(title=title, **meta), f"{title}.txt", title.encode() * 3)
        response = push_client.post("/api/v1/evidence", content=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    backup = push("backup", requirements=["PHY-3/backup"], period_from="2026-01-01", period_to="2026-01-31")
    patches = push("patches", controls=["annex2:OPS-2"], period_from="2026-03-01", period_to="2026-03-31")
    reader = login_as("management")

    def ids(**query) -> list[int]:  # type: ignore[no-untyped-def]
        response = reader.get("/api/v1/evidence", params=query)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(requirement="PHY-3/backup") == [backup]
    assert ids(measure="OPS-2") == [patches]
    # OPS-2 is mapped onto ISO 27001:2022 8.8, so the measure's evidence proves the control too.
    assert patches in ids(control="iso27001-2022:8.8")
    assert ids(period_from="2026-02-01") == [patches]
    assert ids(period_to="2026-02-01") == [backup]
    assert sorted(ids(source="api")) == sorted([backup, patches])
    assert ids(source="upload") == []
    assert reader.get("/api/v1/evidence", params={"control": "iso27001-2022:77"}).status_code == 422


def test_keyset_pages_cover_every_item_once(push_client, login_as):
    created = []
    for number in range(7):
        body, headers = push_body(
            metadata(title=f"item {number}", collected_at="2026-06-01T10:00:00Z"),
            f"i{number}.txt",
            f"item {number}".encode(),
        )
        created.append(push_client.post("/api/v1/evidence", content=body, headers=headers).json()["id"])
    reader = login_as("it")
    seen, cursor, pages = [], "", 0
    while True:
        page = reader.get("/api/v1/evidence", params={"limit": 3, "cursor": cursor}).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert pages == 3
    assert seen == sorted(created, reverse=True)
    assert reader.get("/api/v1/evidence", params={"cursor": "not-a-cursor"}).status_code == 422


def test_openapi_documents_the_evidence_api(client):
    spec = client.get("/api/openapi.json").json()
    post = spec["paths"]["/api/v1/evidence"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["required"]) == {"metadata", "file"}
    assert "get" in spec["paths"]["/api/v1/evidence"]
    assert "get" in spec["paths"]["/api/v1/evidence/{evidence_id}"]


def test_a_body_that_breaks_off_inside_the_file_stores_nothing(push_client, session, store):
    body, headers = push_body(metadata(), "backup.csv", REPORT * 100)
    cut = body[: body.index(b"\r\n--", len(body) - 100) - 50]
    response = push_client.post("/api/v1/evidence", content=cut, headers=headers)
    assert response.status_code == 422
    assert "ended before the file was complete" in response.json()["detail"]
    assert records(session) == 0 and list(store.iter_keys()) == []


def test_an_auditors_listing_is_recorded_with_its_filters(push_client, login_as, session):
    from audit_portal.audit.models import AuditEvent

    login_as("management").get("/api/v1/evidence")
    auditor = login_as("auditor")
    assert auditor.get("/api/v1/evidence", params={"measure": "OPS-2"}).status_code == 200
    assert auditor.get("/evidence", params={"source": "api"}).status_code == 200
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence.list").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor, json.loads(e.detail)) for e in events] == [
        (auditor.user.username, {"measure": "OPS-2"}),
        (auditor.user.username, {"source": "api"}),
    ]
