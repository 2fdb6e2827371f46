"""The export page, the streamed download and the public key, with the access rules."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.export.signing import signing_key
from audit_portal.export.verify import verify_package
from tests.export.conftest import assign


def test_an_assigned_auditor_sees_what_the_package_holds_and_the_key(session, settings, seeded, login_as, make_user):
    auditor = make_user("auditor")
    assign(session, seeded.engagement, auditor.id)
    response = login_as(auditor).get(f"/engagements/{seeded.engagement.id}/export")
    assert response.status_code == 200
    key = signing_key(settings)
    assert key.fingerprint in response.text
    assert "-----BEGIN PUBLIC KEY-----" in response.text
    assert f'href="/engagements/{seeded.engagement.id}/export.zip"' in response.text
    assert ">5</div>evidence items" in response.text


def test_the_download_streams_a_package_that_verifies_and_is_recorded(
    session, settings, seeded, login_as, make_user, tmp_path
):
    auditor = make_user("auditor")
    assign(session, seeded.engagement, auditor.id)
    response = login_as(auditor).get(f"/engagements/{seeded.engagement.id}/export.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-length"] == str(len(response.content))
    assert 'attachment; filename="evidence-package-engagement-' in response.headers["content-disposition"]
    path = tmp_path / "download.zip"
    path.write_bytes(response.content)
    assert verify_package(path, signing_key(settings).public_pem.encode()).intact
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "engagement.export", AuditEvent.object_id == str(seeded.engagement.id)
        )
    ).all()
    assert [e.actor for e in events] == [auditor.username]
    assert response.headers["x-manifest-sha256"] in events[0].detail


def test_an_auditor_not_assigned_gets_404_for_page_and_download(seeded, login_as):
    client = login_as("auditor")
    assert client.get(f"/engagements/{seeded.engagement.id}/export").status_code == 404
    assert client.get(f"/engagements/{seeded.engagement.id}/export.zip").status_code == 404


def test_admin_exports_any_engagement_and_it_may_not(seeded, login_as):
    admin = login_as("admin")
    response = admin.get(f"/engagements/{seeded.engagement.id}/export.zip")
    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(response.content)).namelist()[0] == "manifest.json"
    assert login_as("it").get(f"/engagements/{seeded.engagement.id}/export.zip").status_code == 403
    assert login_as("management").get(f"/engagements/{seeded.engagement.id}/export").status_code == 403


def test_an_unknown_engagement_is_404(login_as):
    assert login_as("admin").get("/engagements/424242/export.zip").status_code == 404


def test_the_public_key_is_published_as_pem(client, settings):
    response = client.get("/api/v1/signing-key")
    assert response.status_code == 200
    key = signing_key(settings)
    assert response.text == key.public_pem
    assert response.headers["x-key-fingerprint-sha256"] == key.fingerprint
