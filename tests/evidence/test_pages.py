"""The evidence pages: upload (it role), the item page with its access record and safe preview,
the streamed download, and the list."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.evidence.models import Evidence
from tests.evidence.conftest import multipart

CSV = b"host,patched,date\n" + b"".join(f"web-{n},yes,2026-11-{n % 28 + 1:02d}\n".encode() for n in range(600))


def upload(client, *files: tuple[str, bytes], **fields: str):  # type: ignore[no-untyped-def]
    parts = [(name, None, value.encode()) for name, value in fields.items() if name != "links"]
    parts += [("links", None, link.encode()) for link in fields.get("links", "").split() if link]
    parts += [("files", filename, content) for filename, content in files]
    body, headers = multipart(*parts)
    return client.post("/evidence/upload", content=body, headers={**headers, "HX-Request": "true"})


def test_it_uploads_through_the_page_and_lands_on_the_item(login_as, session, catalogue, store):
    it = login_as("it")
    form = it.get("/evidence/upload")
    assert form.status_code == 200
    assert 'hx-encoding="multipart/form-data"' in form.text and "data-upload-progress" in form.text
    response = upload(
        it,
        ("patch-report.csv", CSV),
        title="Patch status November",
        links="OPS-2/patches iso27001-2022:8.8",
        period_from="2026-11-01",
        period_to="2026-11-30",
    )
    assert response.status_code == 200, response.text
    evidence = session.scalars(select(Evidence)).one()
    assert response.headers["HX-Redirect"] == f"/evidence/{evidence.id}"
    assert evidence.uploaded_by_id == it.user.id and evidence.source_kind == "upload"
    assert evidence.content_type == "text/csv" and evidence.sha256 == hashlib.sha256(CSV).hexdigest()


def test_upload_without_csrf_header_is_refused(login_as, catalogue, store):
    it = login_as("it")
    del it.headers["X-CSRF-Token"]
    response = upload(it, ("r.txt", b"data"), title="x")
    assert response.status_code == 403
    assert list(store.iter_keys()) == []


def test_several_files_give_several_items(login_as, session, catalogue):
    it = login_as("it")
    response = upload(it, ("a.txt", b"first"), ("b.txt", b"second"), links="HR-3/awareness")
    assert response.status_code == 200
    assert "Uploaded 2 items" in response.text and "<header" not in response.text
    titles = sorted(e.title for e in session.scalars(select(Evidence)))
    assert titles == ["a.txt", "b.txt"]


def test_refused_upload_shows_the_reason_and_stores_nothing(login_as, session, catalogue, store):
    it = login_as("it")
    response = upload(it, ("r.txt", b"data"), title="x", links="iso27001-2022:0.0")
    assert response.status_code == 422
    assert "unknown" in response.text and "iso27001-2022:0.0" in response.text
    assert session.scalars(select(Evidence)).first() is None and list(store.iter_keys()) == []


def test_auditor_views_and_downloads_but_cannot_upload(login_as, session, catalogue, store, engaged_auditor):
    it = login_as("it")
    upload(it, ("patch-report.csv", CSV), title="Patch status", links="OPS-2/patches")
    evidence = session.scalars(select(Evidence)).one()
    today = evidence.collected_at.date()
    unassigned = login_as("auditor")
    assert unassigned.get(f"/evidence/{evidence.id}").status_code == 404
    assert unassigned.get(f"/evidence/{evidence.id}/download").status_code == 404
    auditor = login_as(engaged_auditor(today - timedelta(days=30), today))

    page = auditor.get(f"/evidence/{evidence.id}")
    assert page.status_code == 200
    assert evidence.sha256 in page.text and "OPS-2/patches" in page.text
    download = auditor.get(f"/evidence/{evidence.id}/download")
    assert download.status_code == 200 and download.content == CSV
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "patch-report.csv" in download.headers["content-disposition"]
    assert download.headers["x-content-type-options"] == "nosniff"

    assert auditor.get("/evidence/upload").status_code == 403
    assert upload(auditor, ("r.txt", b"auditor data"), title="x").status_code == 403
    assert len(session.scalars(select(Evidence)).all()) == 1

    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "evidence", AuditEvent.actor == auditor.user.username)
        .order_by(AuditEvent.id)  # the chain's order; without it PostgreSQL may return any order
    ).all()
    assert [e.action for e in events] == ["evidence.view", "evidence.download"]
    again = auditor.get(f"/evidence/{evidence.id}")
    assert re.search(rf"{auditor.user.username}</td><td>auditor</td><td>download", again.text)


def test_csv_preview_is_a_table_of_the_first_500_rows(login_as, session, catalogue):
    it = login_as("it")
    upload(it, ("patches.csv", CSV), title="Patches")
    evidence = session.scalars(select(Evidence)).one()
    page = it.get(f"/evidence/{evidence.id}").text
    assert "<th>host</th>" in page and "<td>web-498</td>" in page
    assert "<td>web-499</td>" not in page
    assert "first 500 rows" in page


def test_html_and_svg_are_never_rendered_inline(login_as, session, catalogue):
    it = login_as("it")
    upload(it, ("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>"), title="html")
    upload(
        it,
        ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        title="svg",
    )
    for evidence in session.scalars(select(Evidence)):
        assert evidence.content_type in ("text/html", "image/svg+xml")
        page = it.get(f"/evidence/{evidence.id}").text
        assert "<script>alert(1)</script>" not in page
        assert "never shown inline" in page
        assert it.get(f"/evidence/{evidence.id}/preview").status_code == 404
        download = it.get(f"/evidence/{evidence.id}/download")
        assert download.headers["content-disposition"].startswith("attachment;")


def test_text_preview_is_escaped(login_as, session, catalogue):
    it = login_as("it")
    upload(it, ("notes.txt", b"restore ok <b>bold</b>\n"), title="notes")
    evidence = session.scalars(select(Evidence)).one()
    page = it.get(f"/evidence/{evidence.id}").text
    assert "restore ok &lt;b&gt;bold&lt;/b&gt;" in page


def test_images_and_pdf_are_shown_by_the_browser(login_as, session, catalogue):
    it = login_as("it")
    upload(it, ("shot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), title="screenshot")
    upload(it, ("policy.pdf", b"%PDF-1.4\n%%EOF\n"), title="policy")
    for evidence in session.scalars(select(Evidence)):
        page = it.get(f"/evidence/{evidence.id}").text
        assert f"/evidence/{evidence.id}/preview" in page
        preview = it.get(f"/evidence/{evidence.id}/preview")
        assert preview.status_code == 200
        assert preview.headers["content-type"] == evidence.content_type
        assert preview.headers["content-disposition"].startswith("inline;")


def test_correction_page_shows_the_supersede_chain(login_as, session, catalogue):
    it = login_as("it")
    upload(it, ("restore.txt", b"restore test: 3 of 4 ok"), title="Restore test", links="BCM-1/restore-test")
    old = session.scalars(select(Evidence)).one()
    assert "Upload a correction" in it.get(f"/evidence/{old.id}").text
    upload(it, ("restore-v2.txt", b"restore test: 4 of 4 ok"), title="Restore test (corrected)", supersedes=str(old.id))
    new = session.scalars(select(Evidence).where(Evidence.id != old.id)).one()
    assert new.supersedes_id == old.id
    old_page = it.get(f"/evidence/{old.id}").text
    assert "Superseded on" in old_page and f"/evidence/{new.id}" in old_page
    assert it.get(f"/evidence/{old.id}/download").content == b"restore test: 3 of 4 ok"


def test_list_page_filters_and_pages(login_as, session, catalogue):
    it = login_as("it")
    for number in range(3):
        upload(it, (f"r{number}.txt", f"report {number}".encode()), title=f"Report {number}", links="OPS-2/patches")
    upload(it, ("other.txt", b"other"), title="Awareness", links="HR-3/awareness")
    reader = login_as("management")
    page = reader.get("/evidence", params={"measure": "HR-3"})
    assert page.status_code == 200
    assert "Awareness" in page.text and "Report 0" not in page.text
    first = reader.get("/evidence", params={"limit": 2, "requirement": "OPS-2/patches"})
    assert "Report 2" in first.text and "Report 1" in first.text and "Report 0" not in first.text
    next_url = re.search(r'href="(/evidence\?[^"]*cursor=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = reader.get(next_url)
    assert "Report 0" in second.text and "Report 2" not in second.text
    fragment = reader.get("/evidence", params={"measure": "HR-3"}, headers={"HX-Request": "true"})
    assert "<form" not in fragment.text and "Awareness" in fragment.text


def test_link_search_offers_requirements_measures_and_controls(login_as, catalogue):
    it = login_as("it")
    response = it.get("/evidence/upload/targets", params={"q": "awareness"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'value="HR-3/awareness"' in response.text
    assert 'value="annex2:HR-3"' in response.text
    assert 'value="iso27001-2022:6.3"' in response.text


def test_upload_form_preselects_links(login_as, catalogue):
    it = login_as("it")
    form = it.get("/evidence/upload", params={"link": ["HR-3/awareness", "iso27001-2022:6.3"]})
    assert form.text.count("checked>") == 2


def test_upload_without_htmx_redirects_to_the_item(login_as, session, catalogue):
    it = login_as("it")
    body, headers = multipart(("title", None, b"Scan"), ("files", "scan.pdf", b"%PDF-1.4\n%%EOF\n"))
    response = it.post("/evidence/upload", content=body, headers=headers)
    evidence = session.scalars(select(Evidence)).one()
    assert response.status_code == 303 and response.headers["location"] == f"/evidence/{evidence.id}"
