"""Keyboard only: sign-in with the second factor, the skip link, an auditor's review and IT's
upload, with Tab, Shift+Tab, Enter and Space and never a mouse click. Every element that takes
focus on the way shows a visible focus indicator."""

from __future__ import annotations

import re
import uuid

import pyotp
import pytest

from audit_portal.auth.passwords import generate_password
from audit_portal.auth.service import AccessWindow, create_user
from audit_portal.clock import utcnow
from audit_portal.db import unit_of_work
from audit_portal.principals import Actor
from tests.browser_fixtures import ARTIFACTS

pytestmark = pytest.mark.browser

TAB_LIMIT = 80  # more stops than any page has before the element a flow needs
REVIEW = b"Policy review 2026\nReviewed: information security policy v4.2\nOutcome: no changes needed.\n"

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), name: el.getAttribute('name') || '', id: el.id || '',
    text: (el.innerText || el.value || '').trim().slice(0, 60),
    visible: (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== 'none',
  };
}"""


def focused(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate(FOCUSED)


def tab_to(page, selector: str, *, backwards: bool = False) -> list[dict]:  # type: ignore[no-untyped-def]
    """Press Tab (or Shift+Tab) until the focused element matches ``selector``; every stop on the
    way must show its focus. Returns the stops."""
    stops = []
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        stop = focused(page)
        stops.append(stop)
        assert stop["visible"] or stop["tag"] == "body", f"no visible focus on {stop}"
        if page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return stops
    raise AssertionError(f"{selector} never took the focus; stops: {[s['text'] or s['name'] for s in stops]}")


def keyboard_sign_in(page, base: str, username: str, password: str, totp_secret: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    assert focused(page)["name"] == "username"  # the form starts focused
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    button = focused(page)
    assert button["tag"] == "button" and button["visible"], button
    page.keyboard.press("Enter")
    if totp_secret:
        page.wait_for_url(re.compile(r".*/login/2fa.*"))
        assert focused(page)["name"] == "code"
        page.keyboard.type(pyotp.TOTP(totp_secret).now())
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/(\?.*)?$"))


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = ARTIFACTS / "keyboard"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_sign_in_with_the_second_factor_and_the_skip_link(live_server, page):
    username, password, secret = f"keys.{uuid.uuid4().hex[:6]}", generate_password(), pyotp.random_base32()
    with unit_of_work(live_server.engine) as session:
        user = create_user(
            session,
            username=username,
            role="management",
            password=password,
            window=AccessWindow(),
            actor=Actor.system("test"),
        )
        user.totp_secret, user.totp_enabled_at = secret, utcnow()

    page.goto(f"{live_server.url}/login")
    # Shift+Tab from the first field reaches the skip link, the page's first stop
    stops = tab_to(page, "a.skip-link", backwards=True)
    assert stops[-1]["text"] == "Skip to main content"
    assert page.locator("a.skip-link").bounding_box()["y"] >= 0  # shown once focused
    shot(page, "skip-link-focused")

    keyboard_sign_in(page, live_server.url, username, password, secret)
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to main content"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")  # past the menu
    shot(page, "dashboard-after-skip")


def test_an_auditor_accepts_evidence_with_the_keyboard(live_server, page, audit):
    name, password = audit["accounts"]["auditor"]
    keyboard_sign_in(page, live_server.url, name, password, audit["totp"])
    page.goto(f"{live_server.url}/engagements/{audit['engagement']}/controls/5.1")
    link = page.locator("tr.evidence-row a", has_text=f"Information security policy {audit['suffix']}").first
    row = f"tr.evidence-row:has(a[href='{link.get_attribute('href')}'])"
    tab_to(page, f"{row} input[name=comment]")
    page.keyboard.type("Current policy, approved and dated.")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Accept"
    shot(page, "review-accept-focused")
    page.keyboard.press("Space")
    page.wait_for_selector(f"{row} .chip.accepted")
    assert page.locator(f"{row} .review-comment").inner_text() == "Current policy, approved and dated."


def test_it_uploads_an_answer_with_the_keyboard(live_server, page, audit):
    name, password = audit["accounts"]["it"]
    # Playwright turns on Chromium's file-chooser interception without waiting for it when the first
    # "filechooser" listener arrives, so a Space pressed just after can open no chooser at all. A
    # listener held from the start of the flow has the interception on long before the key press.
    page.on("filechooser", lambda _chooser: None)
    keyboard_sign_in(page, live_server.url, name, password)
    page.goto(f"{live_server.url}/evidence/upload")
    tab_to(page, "form.upload-form input[name=title]")
    page.keyboard.type(f"Policy review {audit['suffix']}")
    tab_to(page, "form.upload-form input[name=q]")
    page.keyboard.type("POL-2")
    result = "[data-link-results] input[value='POL-2/policy-review']"
    page.wait_for_selector(result)
    tab_to(page, result)
    page.keyboard.press("Space")
    chosen = "[data-link-chosen] input[value='POL-2/policy-review']"
    assert page.locator(chosen).is_checked()
    assert page.evaluate("selector => document.activeElement.matches(selector)", chosen)  # focus stays on it
    tab_to(page, "form.upload-form input[type=file]")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(files=[{"name": "policy-review-2026.txt", "mimeType": "text/plain", "buffer": REVIEW}])
    tab_to(page, "form.upload-form button[type=submit]")
    shot(page, "upload-submit-focused")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/evidence/\d+$"))
    assert f"Policy review {audit['suffix']}" in page.inner_text("h1")
