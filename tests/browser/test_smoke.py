"""The sign-in page in a real browser: it renders with the vendored assets and the CSP lets them run."""

from __future__ import annotations

import pytest

from tests.browser_fixtures import screenshot

pytestmark = pytest.mark.browser


def test_sign_in_page_loads_its_assets_without_csp_violations(live_server, page):
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto(f"{live_server.url}/login")
    assert page.locator("form input[name=username]").count() == 1
    assert page.evaluate("typeof window.htmx") == "object"  # vendored htmx ran under the CSP
    screenshot(page, "sign-in")
    assert failed == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []
