"""The upload page in a real browser: htmx posts the multipart body with the CSRF header, the
link picker keeps chosen links across searches, a refused file shows its reason, and a good one
lands on the item's page."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from audit_portal.auth.passwords import generate_password
from audit_portal.auth.service import create_user
from audit_portal.catalogue.service import load_catalogue
from audit_portal.db import unit_of_work
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.service import requirement_links
from audit_portal.principals import Actor
from tests.browser_fixtures import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def it_login(live_server):  # type: ignore[no-untyped-def]
    username, password = f"it.{uuid.uuid4().hex[:8]}", generate_password()
    with unit_of_work(live_server.engine) as session:
        load_catalogue(session)
        create_user(session, username=username, role="it", password=password, actor=Actor.system("test"))
    return username, password


def sign_in(page, url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_upload_page_in_a_browser(live_server, page, it_login):
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live_server.url, *it_login)
    page.goto(f"{live_server.url}/evidence/upload")

    page.fill("input[type=search][name=q]", "awareness")
    page.check("[data-link-results] input[value='HR-3/awareness']")
    page.fill("input[type=search][name=q]", "restore")
    page.wait_for_selector("[data-link-results] input[value='BCM-1/restore-test']")
    assert page.locator("[data-link-chosen] input[value='HR-3/awareness']").is_checked()
    screenshot(page, "evidence-upload")

    page.set_input_files(
        "input[name=files]", files=[{"name": "tool.sh", "mimeType": "text/plain", "buffer": b"#!/bin/sh\necho hi\n"}]
    )
    page.click("form.upload-form button[type=submit]")
    page.wait_for_selector("#upload-result .error-page")
    assert "program or script" in page.inner_text("#upload-result")

    page.fill("input[name=title]", "Awareness session November")
    attendance = b"name,completed\nM. Jansen,yes\nS. de Boer,yes\n"
    page.set_input_files(
        "input[name=files]", files=[{"name": "attendance.csv", "mimeType": "text/csv", "buffer": attendance}]
    )
    page.click("form.upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/evidence/\d+$"))
    assert page.locator("h1").inner_text() == "Awareness session November"
    assert page.locator("table.csv-preview th").first.inner_text() == "name"
    screenshot(page, "evidence-item")
    evidence_id = int(page.url.rsplit("/", 1)[1])
    with unit_of_work(live_server.engine) as session:
        evidence = session.scalars(select(Evidence).where(Evidence.id == evidence_id)).one()
        assert [r.key for r in requirement_links(session, [evidence_id])[evidence_id]] == ["HR-3/awareness"]
        assert evidence.content_type == "text/csv"
    page.goto(f"{live_server.url}/evidence")
    assert page.locator("#evidence-results").get_by_text("Awareness session November").count() == 1
    screenshot(page, "evidence-list")
    assert csp_errors == []
