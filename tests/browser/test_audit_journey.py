"""The audit as people do it, in Chromium against the served portal.

An auditor signs in with two-factor authentication, filters the controls table, opens control
5.1, is refused a rejection without a comment (the error shows at the field), previews and
accepts the policy, asks for the missing policy review; IT answers the request
with an upload; the auditor sees 5.1 turn covered. Management opens the dashboard and follows a
figure to the list behind it. Screenshots of each main page go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest

from audit_portal.clock import utcnow
from tests.browser_fixtures import screenshot

pytestmark = pytest.mark.browser

REVIEW = b"Policy review 2026\nReviewed: information security policy v4.2\nOutcome: no changes needed.\n"


def sign_in(page, base: str, username: str, password: str, totp_secret: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if totp_secret:
        page.wait_for_url(re.compile(r".*/login/2fa.*"))
        screenshot(page, "sign-in-2fa")
        page.fill("input[name=code]", pyotp.TOTP(totp_secret).now())
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/(\?.*)?$"))


def status_chip(page, ref: str):  # type: ignore[no-untyped-def]
    return page.locator(f"tr[id='control-{ref}'] .chip").first


def test_auditor_and_it_bring_a_control_to_covered(live_server, browser, audit):
    base, engagement = live_server.url, audit["engagement"]
    auditor_name, auditor_password = audit["accounts"]["auditor"]
    auditor = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    auditor.set_default_timeout(15_000)
    sign_in(auditor, base, auditor_name, auditor_password, audit["totp"])

    auditor.goto(f"{base}/engagements/{engagement}/controls")
    assert status_chip(auditor, "5.1").inner_text().lower() == "partial"
    auditor.select_option("form.filters select[name=status]", "partial")
    auditor.wait_for_url(re.compile(r".*status=partial.*"))
    auditor.wait_for_function("document.querySelectorAll('#controls-body tr').length >= 1")
    rows = auditor.locator("#controls-body tr[id^=control-]")
    assert {chip.lower() for chip in rows.locator(".chip").all_inner_texts()} == {"partial"}
    screenshot(auditor, "auditor-controls-filtered")

    auditor.click("#controls-body a[href$='/controls/5.1']")
    auditor.wait_for_url(re.compile(r".*/controls/5\.1$"))
    screenshot(auditor, "auditor-control-5.1")

    auditor.click(f"a:has-text('Information security policy {audit['suffix']}')")
    auditor.wait_for_url(re.compile(r".*/evidence/\d+$"))
    assert "Approved by the board on 2026-03-02" in auditor.inner_text("body")
    screenshot(auditor, "auditor-evidence-preview")
    auditor.go_back()
    auditor.wait_for_url(re.compile(r".*/controls/5\.1$"))

    row = auditor.locator("tr.evidence-row", has_text=f"Information security policy {audit['suffix']}")
    # A rejection without a comment is refused (422) and the page shows why next to the field.
    row.locator("button[value=reject]").click()
    auditor.wait_for_selector("tr.evidence-row .field-error")
    assert "Say why" in row.locator(".field-error").inner_text()
    history = auditor.locator(".occurrences").first  # POL-1's history: select nothing, reject
    history.locator("button:has-text('Reject selected')").click()
    auditor.wait_for_selector(".occurrences .field-error")
    screenshot(auditor, "auditor-occurrence-reject-refused")
    row = auditor.locator("tr.evidence-row", has_text=f"Information security policy {audit['suffix']}")
    row.locator("input[name=comment]").fill("Current policy, approved and dated.")
    row.locator("button[value=accept]").click()
    auditor.wait_for_selector("tr.evidence-row .chip.accepted")

    auditor.click("a[href*='requests/new?subject=POL-2']")
    auditor.wait_for_url(re.compile(r".*/requests/new\?subject=POL-2.*"))
    auditor.fill("textarea[name=question]", "Please provide the record of this year's policy review.")
    auditor.fill("input[name=due_date]", (utcnow().date() + timedelta(days=14)).isoformat())
    auditor.click("#request-form button[type=submit]")
    auditor.wait_for_url(re.compile(r".*/requests/\d+$"))
    request_url = auditor.url
    screenshot(auditor, "auditor-request")

    it_name, it_password = audit["accounts"]["it"]
    it = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    it.set_default_timeout(15_000)
    sign_in(it, base, it_name, it_password)
    it.goto(f"{base}/engagements/{engagement}/requests")
    screenshot(it, "it-request-queue")
    it.goto(request_url)
    it.click("a:has-text('Upload new evidence for this request')")
    it.wait_for_url(re.compile(r".*/evidence/upload\?request=\d+$"))
    it.fill("input[name=title]", f"Policy review {audit['suffix']}")
    it.fill("input[type=search][name=q]", "POL-2")
    it.check("[data-link-results] input[value='POL-2/policy-review']")
    it.set_input_files(
        "input[name=files]", files=[{"name": "policy-review-2026.txt", "mimeType": "text/plain", "buffer": REVIEW}]
    )
    screenshot(it, "it-upload-answer")
    it.click("form.upload-form button[type=submit]")
    it.wait_for_url(re.compile(r".*/evidence/\d+$"))

    auditor.goto(request_url)
    assert "answered" in auditor.inner_text("body").lower()
    auditor.goto(f"{base}/engagements/{engagement}/controls?q=5.1")
    assert status_chip(auditor, "5.1").inner_text().lower() == "covered"
    screenshot(auditor, "auditor-control-covered")


def test_management_follows_a_dashboard_figure_to_its_list(live_server, page, audit):
    name, password = audit["accounts"]["management"]
    sign_in(page, live_server.url, name, password)
    figure = page.locator("a[data-figure='coverage-iso27001-2022-covered']")
    covered = int(figure.inner_text())
    screenshot(page, "management-dashboard")
    figure.click()
    page.wait_for_url(re.compile(r".*/dashboard/controls\?framework=iso27001-2022&status=covered.*"))
    screenshot(page, "management-covered-controls")
    listed = page.locator("table tbody tr").count()
    assert listed == covered


def test_auditor_reads_the_clause_tab_with_its_own_coverage(live_server, browser, audit):
    base, engagement = live_server.url, audit["engagement"]
    name, password = audit["accounts"]["auditor"]
    auditor = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    auditor.set_default_timeout(15_000)
    sign_in(auditor, base, name, password, audit["totp"])
    auditor.goto(f"{base}/engagements/{engagement}/controls")
    auditor.click("nav.tabs a:has-text('Clauses 4–10')")
    auditor.wait_for_url(re.compile(rf".*/engagements/{engagement}/clauses$"))
    assert auditor.locator("nav.tabs a[aria-current=page]").inner_text() == "Clauses 4–10"
    assert status_chip(auditor, "C.9.3").inner_text().lower() == "covered"
    assert status_chip(auditor, "C.4.3").inner_text().lower() == "missing"
    rows = auditor.locator("#controls-body tr[id^=control-]")
    assert rows.count() == 25  # clauses 4.1 to 10.2 of the 2022 edition, no Annex A control among them
    assert all(ref.startswith("control-C.") for ref in [rows.nth(i).get_attribute("id") for i in range(rows.count())])
    summary = auditor.locator("section.coverage-summary .card").first.inner_text()
    assert "clauses" in summary and "as of" in summary
    screenshot(auditor, "auditor-clauses-tab")


def test_the_soa_flags_an_implemented_control_without_evidence(live_server, page, audit):
    name, password = audit["accounts"]["management"]
    sign_in(page, live_server.url, name, password)
    dashboard_flag = page.locator("#soa-contradictions [data-contradiction='5.5']")
    assert dashboard_flag.count() == 1
    page.goto(f"{live_server.url}/soa")
    assert page.locator("#contradictions [data-contradiction='5.5']").count() == 1
    row = page.locator("tr[id='control-5.5']")
    assert "contradiction" in row.inner_text().lower()
    assert "missing" in row.locator(".chip.missing").inner_text().lower()
    screenshot(page, "soa-contradiction")
