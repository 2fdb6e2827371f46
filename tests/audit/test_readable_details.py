"""The audit log page shows each event's detail as a sentence and "key: value" lines, never as
raw JSON; the recorded JSON stays available in a collapsed <details> for whoever needs it."""

from __future__ import annotations

import re

from audit_portal.audit import presenters
from audit_portal.audit.models import AuditEvent
from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.principals import Actor, Principal

IT = Principal(role="it", username="it.ops")
SHA = "ab12cd34ef56" + "0" * 52


def event(action: str, detail: str, **fields: str) -> AuditEvent:
    return AuditEvent(
        id=1,
        at=utcnow(),
        actor="it.ops",
        actor_role="it",
        action=action,
        outcome="success",
        detail=detail,
        prev_hash="0" * 64,
        hash="0" * 64,
        **fields,
    )


def detail_cells(page: str) -> list[str]:
    return re.findall(r'<td class="break audit-detail">(.*?)</td>', page, flags=re.S)


def test_an_upload_reads_as_a_sentence_with_the_rest_as_lines():
    shown = presenters.readable(
        event(
            "evidence.upload",
            '{"content_type": "application/pdf", "filename": "x.pdf", "requirements": ["ACC-2/accounts"], '
            f'"sha256": "{SHA}", "size": 2048, "supersedes": null}}',
            object_id="7",
        ),
        "en",
    )
    assert shown.summary == "Evidence 'x.pdf' uploaded for requirement ACC-2/accounts (sha256 ab12cd34ef56…, 2.0 KiB)"
    assert shown.lines == [("content type", "application/pdf")]
    assert '"sha256": "' + SHA in shown.raw


def test_unknown_types_and_unexpected_shapes_fall_back_to_lines():
    unknown = presenters.readable(
        event("x.custom", '{"count": 3, "hosts": ["a", "b"], "ok": true, "nested": {"k": 1}}'), "en"
    )
    assert unknown.summary == ""
    assert unknown.lines == [("count", "3"), ("hosts", "a, b"), ("ok", "yes"), ("nested", "k: 1")]
    odd = presenters.readable(event("finding.transition", '["not", "an", "object"]'), "en")
    assert odd.summary == "" and odd.lines == [("detail", "not, an, object")]
    broken = presenters.readable(event("evidence.upload", "not json"), "en")
    assert broken.lines == [("detail", "not json")]
    empty = presenters.readable(event("auth.logout", "{}"), "en")
    assert not empty.has_detail and empty.raw == ""


def test_the_page_shows_readable_detail_and_keeps_the_json_collapsed(login_as, session):
    record_event(
        session,
        actor=Actor(IT),
        action="evidence.upload",
        object_type="evidence",
        object_id="12",
        detail={
            "filename": "<b>x</b>.pdf",
            "sha256": SHA,
            "size": 10,
            "requirements": ["ACC-2/accounts"],
            "content_type": "application/pdf",
        },
    )
    record_event(session, actor=Actor(IT), action="x.custom", detail={"hosts": ["web-1", "web-2"]})
    session.commit()
    page = login_as("admin").get("/admin/audit-log").text
    cells = {cell for cell in detail_cells(page) if cell.strip()}
    upload = next(cell for cell in cells if "uploaded" in cell)
    assert (
        "Evidence &#39;&lt;b&gt;x&lt;/b&gt;.pdf&#39; uploaded for requirement ACC-2/accounts (sha256 ab12cd34ef56…, 10 bytes)"
        in upload
    )
    assert '<span class="muted">content type:</span> application/pdf' in upload
    custom = next(cell for cell in cells if "web-1" in cell)
    assert '<span class="muted">hosts:</span> web-1, web-2' in custom
    for cell in cells:
        # Whatever JSON there is sits inside the collapsed <details>, after the readable part.
        readable_part = cell.split("<details>")[0]
        assert "{" not in readable_part and "&#34;" not in readable_part and "&quot;" not in readable_part
        if "<details>" in cell:
            assert "<summary>Recorded JSON</summary>" in cell


def test_an_upload_through_the_portal_records_its_requirements(login_as, session, store):
    from audit_portal.catalogue.service import load_catalogue
    from tests.evidence.test_pages import upload

    load_catalogue(session)
    session.commit()
    response = upload(login_as("it"), ("list.csv", b"user,role\nann,it\n"), title="Accounts", links="ACC-2/accounts")
    assert response.status_code == 200, response.text
    page = login_as("admin").get("/admin/audit-log", params={"action": "evidence.upload"}).text
    assert "Evidence &#39;list.csv&#39; uploaded for requirement ACC-2/accounts (sha256 " in page
