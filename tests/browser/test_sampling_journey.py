"""Sampled fieldwork in Chromium against the served portal: the auditor draws a sample of the
patch collector's runs, records the results (one exception, refused first without a note),
concludes and raises a finding from the exception; IT plans the action and reports it
remediated; the auditor verifies the remediation and closes the finding."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import pyotp
import pytest

from audit_portal.auth.passwords import generate_password
from audit_portal.auth.service import AccessWindow, create_user
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.db import unit_of_work
from audit_portal.engagements.models import Engagement, EngagementAuditor
from audit_portal.evidence import service as evidence_service
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor, Principal
from audit_portal.soa.service import ensure_defaults
from evidence_store import open_store
from tests.browser.test_audit_journey import sign_in
from tests.browser_fixtures import screenshot
from tests.engagements.test_occurrences import Items

pytestmark = pytest.mark.browser

RUNS = 8  # and IT's report: nine occurrences of a weekly requirement, of which the rule samples 5
EXCEPTION = "web1 kept security updates pending for 12 days, past the 7-day patch window."


@pytest.fixture
def fieldwork(live_server):  # type: ignore[no-untyped-def]
    """An engagement with its own auditor (two-factor) and IT account, eight runs of a patch
    collector (three items each) and a report IT can point to as the remediation."""
    suffix = uuid.uuid4().hex[:6]
    accounts = {role: (f"{role}.s{suffix}", generate_password()) for role in ("auditor", "it")}
    totp_secret = pyotp.random_base32()
    store = open_store(live_server.settings.store_url)
    with unit_of_work(live_server.engine) as session:
        load_catalogue(session)
        ensure_defaults(session)
        window = AccessWindow(valid_until=utcnow() + timedelta(days=30))
        users = {
            role: create_user(
                session,
                username=name,
                role=role,
                password=password,
                window=window if role == "auditor" else AccessWindow(),
                actor=Actor.system("test"),
            )
            for role, (name, password) in accounts.items()
        }
        auditor, it = users["auditor"], users["it"]
        auditor.totp_secret = totp_secret
        auditor.totp_enabled_at = utcnow()
        today = utcnow().date()
        engagement = Engagement(
            name=f"Sampled audit {suffix}",
            framework_key="iso27001-2022",
            period_start=today - timedelta(days=365),
            period_end=today,
            created_at=utcnow(),
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        runs = Items(session, it.id)
        runs.instance.name = f"patches-{suffix}"
        for week in range(RUNS):
            runs.run(days_ago=3 + 7 * week)
        fixed = evidence_service.ingest(
            session,
            store,
            stream=io.BytesIO(b"apt: 0 security updates pending on web1\n"),
            filename="patches-web1.txt",
            meta=EvidenceMeta(
                title=f"Patch report after the fix {suffix}",
                requirements=["OPS-2/patches"],
                collected_at=utcnow() - timedelta(hours=2),
            ),
            source=EvidenceSource.upload(it.id),
            max_bytes=live_server.settings.max_upload_bytes,
            actor=Actor(Principal(role="it", username=it.username, user_id=it.id)),
        )
        ids = {"engagement": engagement.id, "fixed": fixed.id}
    return {**ids, "accounts": accounts, "totp": totp_secret}


def _new_page(browser):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    return page


def test_a_sampled_exception_becomes_a_finding_that_it_remediates_and_the_auditor_closes(
    live_server, browser, fieldwork
):
    base, engagement = live_server.url, fieldwork["engagement"]
    auditor_name, auditor_password = fieldwork["accounts"]["auditor"]
    auditor = _new_page(browser)
    sign_in(auditor, base, auditor_name, auditor_password, fieldwork["totp"])

    auditor.goto(f"{base}/engagements/{engagement}/samples")
    auditor.fill("#sample-form input[name=subject]", "OPS-2/patches")
    auditor.fill("#sample-form input[name=seed]", "20261201")
    auditor.click("#sample-form button[type=submit]")
    auditor.wait_for_url(re.compile(r".*/samples/\d+$"))
    sample_url = auditor.url
    body = auditor.inner_text("body")
    assert (
        "weekly (every 7 days): 5 to 15" in body and f"{RUNS + 1} occurrences when drawn" in body
    )  # the runs and IT's upload
    rows = auditor.locator("tr.sample-item")
    assert rows.count() == 5
    screenshot(auditor, "auditor-sample-drawn")

    # An exception without a note is refused; the message shows at the item's note.
    first = rows.nth(0)
    first.locator("select[name=result]").select_option("exception")
    first.locator("button:has-text('Save')").click()
    auditor.wait_for_selector("tr.sample-item .field-error")
    first = auditor.locator("tr.sample-item").nth(0)
    assert "Describe the exception" in first.locator(".field-error").inner_text()
    first.locator("textarea[name=note]").fill(EXCEPTION)
    first.locator("button:has-text('Save')").click()
    auditor.wait_for_selector("tr.sample-item >> nth=0 >> .chip.exception")
    for index in range(1, 5):
        row = auditor.locator("tr.sample-item").nth(index)
        row.locator("select[name=result]").select_option("effective")
        row.locator("button:has-text('Save')").click()
        auditor.wait_for_selector(f"tr.sample-item >> nth={index} >> .chip.effective")
    auditor.select_option("#conclude-form select[name=conclusion]", "effective_with_exceptions")
    auditor.fill(
        "#conclude-form textarea[name=conclusion_note]", "Patching works except for one run; raised as a finding."
    )
    auditor.click("#conclude-form button[type=submit]")
    auditor.wait_for_selector("#conclusion .chip.effective_with_exceptions")
    screenshot(auditor, "auditor-sample-concluded")

    auditor.click("a:has-text('Raise a finding from 1 exception')")
    auditor.wait_for_url(re.compile(r".*/findings/new\?sample=\d+$"))
    assert auditor.input_value("#finding-form input[name=control_refs]") == "8.8, 8.19, OPS-2"
    assert EXCEPTION in auditor.input_value("#finding-form textarea[name=detail]")
    auditor.select_option("#finding-form select[name=severity]", "high")
    screenshot(auditor, "auditor-finding-from-sample")
    auditor.click("#finding-form button[type=submit]")
    auditor.wait_for_url(re.compile(r".*/findings/\d+$"))
    finding_url = auditor.url
    assert "Raised from" in auditor.inner_text("body")

    it_name, it_password = fieldwork["accounts"]["it"]
    it = _new_page(browser)
    sign_in(it, base, it_name, it_password)
    it.goto(finding_url)
    assert it.locator("form[action$='/verify']").count() == 0  # IT never closes a nonconformity
    it.fill("#plan-owner", "Head of operations")
    it.fill("#plan-due_date", (utcnow().date() + timedelta(days=30)).isoformat())
    it.fill("#plan-root_cause", "Unattended upgrades were switched off on web1 after a kernel issue.")
    it.fill("#plan-corrective_action", "Install the pending updates; re-enable unattended upgrades with a monitor.")
    it.click("form[action$='/plan'] button[type=submit]")
    it.wait_for_selector(".chip.action_planned")
    it.fill("#remediate-note", "Updates installed on web1; unattended upgrades enabled again.")
    it.fill("#remediate-evidence_ids", str(fieldwork["fixed"]))
    it.click("form[action$='/remediate'] button[type=submit]")
    it.wait_for_selector("p .chip.remediated")
    screenshot(it, "it-finding-remediated")

    auditor.goto(finding_url)
    auditor.check("input[name=decision][value=close]")
    auditor.fill("#verify-note", "The patch report after the fix shows no pending security update on web1.")
    auditor.click("form[action$='/verify'] button[type=submit]")
    auditor.wait_for_selector("p .chip.closed")
    assert auditor.locator("table.history .chip").all_inner_texts() == [
        "Open",
        "Action planned",
        "Remediated, to verify",
        "Closed",
    ]
    screenshot(auditor, "auditor-finding-closed")
    auditor.goto(sample_url)
    assert auditor.locator("tr.sample-item >> nth=0 >> a:has-text('finding')").count() == 1
