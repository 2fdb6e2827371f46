"""Any file name: UTF-8 names in every script upload through the page and the API (the plain
RFC 7578 ``filename`` and the RFC 5987 ``filename*``), invisible characters are removed with the
name as sent kept, and the download names the file correctly."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.evidence.models import Evidence
from tests.evidence.conftest import BOUNDARY, metadata

NAMES = [
    "Überprüfung Zugänge 2026.txt",  # German
    "verslag back-up één.txt",  # Dutch
    "Sprawozdanie z kopii zapasowej – łódź.txt",  # Polish
    "Отчёт о резервном копировании.txt",  # Cyrillic
    "備份報告 2026年.txt",  # CJK
    "backup ✅ 🔐 done.txt",  # emoji
    "family 👨\u200d👩\u200d👧 backup.txt",  # an emoji sequence keeps its joiners
]


def body_with(filename_params: str, content: bytes, *, with_metadata: bool) -> tuple[bytes, dict[str, str]]:
    """A multipart body whose file part's Content-Disposition parameters are given raw (UTF-8)."""
    import json

    body = bytearray()
    if with_metadata:
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode()
        body += json.dumps(metadata()).encode() + b"\r\n"
    field = "file" if with_metadata else "files"
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; {filename_params}\r\n'.encode()
    body += b"Content-Type: text/plain\r\n\r\n" + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    return bytes(body), {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def disposition_filename(header: str) -> str:
    """The name a browser saves the download as: ``filename*`` wins over ``filename`` (RFC 6266)."""
    extended = re.search(r"filename\*=([^;]+)", header)
    assert extended, header
    charset, _language, encoded = extended.group(1).strip().split("'", 2)
    assert charset.lower() == "utf-8"
    return unquote(encoded, errors="strict")


@pytest.mark.parametrize("name", NAMES)
def test_utf8_names_upload_through_the_api_and_download_by_name(push_client, session, name):
    content = f"report for {name}\n".encode()
    body, headers = body_with(f'filename="{name}"', content, with_metadata=True)
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["original_filename"] == name

    download = push_client.get(f"/evidence/{response.json()['id']}/download")
    # The token may not read pages; the record's name is what matters here.
    evidence = session.get(Evidence, response.json()["id"])
    assert evidence.original_filename == name and evidence.submitted_filename is None
    assert download.status_code in (401, 403)


@pytest.mark.parametrize("name", NAMES)
def test_utf8_names_upload_through_the_page_and_download_by_name(login_as, session, catalogue, name):
    it = login_as("it")
    content = f"report for {name}\n".encode()
    body, headers = body_with(f'filename="{name}"', content, with_metadata=False)
    response = it.post("/evidence/upload", content=body, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 200, response.text
    evidence = session.scalars(select(Evidence)).one()
    assert evidence.original_filename == name and evidence.title == name

    download = it.get(f"/evidence/{evidence.id}/download")
    assert download.status_code == 200 and download.content == content
    disposition = download.headers["content-disposition"]
    assert disposition.isascii()
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert disposition_filename(disposition) == name


def test_rfc5987_filename_star_is_understood_and_wins(push_client, session):
    name = "Zażółć gęślą jaźń.txt"
    params = f"filename=\"fallback.txt\"; filename*=UTF-8''{quote(name, safe='')}"
    body, headers = body_with(params, b"pangram\n", with_metadata=True)
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["original_filename"] == name


def test_a_malformed_filename_star_is_refused_with_a_clear_message(push_client, session, store):
    body, headers = body_with("filename*=UTF-8''%FF%FE.txt", b"data\n", with_metadata=True)
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 422
    assert "filename*" in response.json()["detail"]
    assert list(store.iter_keys()) == []


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("notes\u202egnp.txt", "notesgnp.txt"),  # right-to-left override: reads "notestxt.png"
        ("re\u200bport\u200d.txt", "report.txt"),  # zero-width space and a stray joiner
        ("\u2066isolated\u2069 name.txt", "isolated name.txt"),
        ("\ufeffbom first.txt", "bom first.txt"),
    ],
)
def test_invisible_characters_are_removed_and_the_name_as_sent_is_kept(login_as, session, catalogue, sent, stored):
    it = login_as("it")
    body, headers = body_with(f'filename="{sent}"', b"plain text evidence\n", with_metadata=False)
    response = it.post("/evidence/upload", content=body, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 200, response.text
    evidence = session.scalars(select(Evidence)).one()
    assert evidence.original_filename == stored
    assert evidence.submitted_filename == sent
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.upload")).one()
    detail = json.loads(event.detail)
    assert detail["submitted_filename"] == sent and detail["filename"] == stored
    page = it.get(f"/evidence/{evidence.id}")
    assert "Sent as" in page.text
    assert disposition_filename(it.get(f"/evidence/{evidence.id}/download").headers["content-disposition"]) == stored


def test_a_name_of_invisible_characters_only_is_refused(push_client, store):
    body, headers = body_with('filename="\u200b\u200b"', b"data\n", with_metadata=True)
    response = push_client.post("/api/v1/evidence", content=body, headers=headers)
    assert response.status_code == 422 and "invisible" in response.json()["detail"]
    assert list(store.iter_keys()) == []
