"""Every main page of every role, in English and in Dutch, checked by axe-core in Chromium.

Each role signs in once (admin and auditor with their second factor); the signed-in session is
reused by one browser context per language, whose locale sets Accept-Language. On every page
axe-core (pinned in tests/browser/axe) runs and any serious or critical violation fails the test
with its rule, the elements and the page; every status badge must carry text, not colour alone.
Screenshots of each page per language go to tmp/artifacts/a11y/<language>/.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from sqlmodel import Session

from audit_portal.auth.passwords import generate_password
from audit_portal.auth.service import AccessWindow, create_user
from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.db import unit_of_work
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.models import Evidence
from audit_portal.findings.models import Finding
from audit_portal.portal import service as portal_settings
from audit_portal.principals import Actor
from audit_portal.requests.models import EvidenceRequest
from tests.browser_fixtures import ARTIFACTS

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
LANGUAGES = {"en": "en-GB", "nl": "nl-NL"}
BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class DemoIds:
    engagement: int
    evidence: int
    request: int
    finding: int
    collector: str  # host-managed in the demo: read-only in the portal
    run: int


def demo_ids(server) -> DemoIds:  # type: ignore[no-untyped-def]
    with Session(server.engine) as session:
        engagement = session.scalars(select(Engagement).order_by(Engagement.id)).first()
        return DemoIds(
            engagement=engagement.id,
            evidence=session.scalars(select(Evidence.id).order_by(Evidence.id.desc())).first(),
            request=session.scalars(
                select(EvidenceRequest.id).where(EvidenceRequest.engagement_id == engagement.id)
            ).first(),
            finding=session.scalars(select(Finding.id).where(Finding.engagement_id == engagement.id)).first(),
            collector=session.scalars(select(CollectorInstance.name).order_by(CollectorInstance.id)).first(),
            run=session.scalars(select(CollectorRun.id).order_by(CollectorRun.id.desc())).first(),
        )


def main_pages(role: str, ids: DemoIds) -> dict[str, str]:
    """Name -> path of the pages each role works in (docs/accessibility.md lists them)."""
    e = f"/engagements/{ids.engagement}"
    common = {
        "dashboard": "/",
        "catalogue": "/catalogue",
        "catalogue-control": "/catalogue/iso27001-2022/5.1",
        "profile": "/profile",
        "digest": "/notifications",
        "findings": "/findings",
    }
    pages = {
        "auditor": {
            "engagements": "/engagements",
            "controls": f"{e}/controls",
            "clauses": f"{e}/clauses",
            "measures": f"{e}/measures",
            "control": f"{e}/controls/5.1",
            "requests": f"{e}/requests",
            "request": f"{e}/requests/{ids.request}",
            "engagement-findings": f"{e}/findings",
            "finding": f"{e}/findings/{ids.finding}",
            "samples": f"{e}/samples",
            "new-request": f"{e}/requests/new",
            "export": f"{e}/export",
        },
        "it": {
            "evidence": "/evidence",
            "upload": "/evidence/upload",
            "evidence-detail": f"/evidence/{ids.evidence}",
            "collectors": "/collectors",
            "collector": f"/collectors/{ids.collector}",
            "run": f"/runs/{ids.run}",
            "soa": "/soa",
            "requests": f"{e}/requests",
            "request": f"{e}/requests/{ids.request}",
        },
        "management": {
            "reports": "/reports",
            "soa": "/soa",
            "trend": "/dashboard/trend",
            "covered-controls": "/dashboard/controls?framework=iso27001-2022&status=covered",
            "slipped": "/dashboard/slipped?status=stale",
            "expiring": "/dashboard/expiring",
            "collector-health": "/dashboard/collectors?show=all",
            "dashboard-requests": "/dashboard/requests",
        },
        "admin": {
            "users": "/admin/users",
            "tokens": "/admin/tokens",
            "audit-log": "/admin/audit-log",
            "soa-edit": "/soa/5.1",
            "engagements": "/engagements",
            "new-engagement": "/engagements/new",
            "new-collector": "/collectors/new",
        },
    }
    return {**common, **pages[role]}


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        pytest.fail("axe-core is not installed: (cd tests/browser/axe && npm ci); .ci/run does it")
    if page.evaluate("typeof window.axe") != "object":
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict], where: str) -> list[str]:
    return [
        f"{where}: {v['id']} ({v['impact']}): {v['help']} at {', '.join(' '.join(n['target']) for n in v['nodes'][:5])}"
        for v in violations
    ]


def unnamed_badges(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Status badges whose meaning would rest on colour alone: no text a reader can perceive."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.chip')]
              .filter(chip => !(chip.innerText || '').trim() && !chip.getAttribute('aria-label'))
              .map(chip => chip.outerHTML)"""
    )


def check_page(page, where: str, shot: Path) -> list[str]:  # type: ignore[no-untyped-def]
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    problems = describe(axe_violations(page), where)
    problems += [f"{where}: badge without text: {html}" for html in unnamed_badges(page)]
    return problems


def sign_in(page, base: str, username: str, password: str, totp_secret: str | None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if totp_secret:
        page.wait_for_url(re.compile(r".*/login/2fa.*"))
        page.fill("input[name=code]", pyotp.TOTP(totp_secret).now())
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"^{re.escape(base)}/(\?.*)?$"))


@pytest.fixture(scope="module")
def signed_in(demo_server, browser):  # type: ignore[no-untyped-def]
    """The browser storage (session cookie) of each demo role, signed in once: a TOTP code works
    only once, so the languages share one sign-in."""
    with Session(demo_server.engine) as session:
        logins = portal_settings.get_value(session, "demo_logins") or ""
        from audit_portal.auth.models import UserAccount

        accounts = {}
        for line in logins.splitlines():
            role, username, password = line.split("\t")
            user = session.scalars(select(UserAccount).where(UserAccount.username == username)).one()
            accounts[role] = (username, password, user.totp_secret if user.totp_enabled_at else None)
    states = {}
    for role, (username, password, totp) in accounts.items():
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, demo_server.url, username, password, totp)
        states[role] = context.storage_state()
        context.close()
    return states


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("role", ["auditor", "it", "management", "admin"])
def test_every_main_page_of_each_role_passes_axe(demo_server, browser, signed_in, role, language):
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale=LANGUAGES[language], storage_state=signed_in[role]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    try:
        for name, path in main_pages(role, demo_ids(demo_server)).items():
            response = page.goto(f"{demo_server.url}{path}")
            assert response is not None and response.status == 200, (
                f"{role} {path}: HTTP {response and response.status}"
            )
            assert page.evaluate("document.documentElement.lang"), f"{path} has no <html lang>"
            problems += check_page(
                page, f"{role} {language} {path}", ARTIFACTS / "a11y" / language / f"{role}-{name}.png"
            )
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_sign_in_pages_pass_axe(demo_server, browser, language):
    username, password, secret = f"a11y.{uuid.uuid4().hex[:6]}", generate_password(), pyotp.random_base32()
    with unit_of_work(demo_server.engine) as session:
        user = create_user(
            session,
            username=username,
            role="admin",
            password=password,
            window=AccessWindow(),
            actor=Actor.system("test"),
        )
        user.totp_secret, user.totp_enabled_at = secret, utcnow()
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=LANGUAGES[language])
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    try:
        page.goto(f"{demo_server.url}/login")
        problems += check_page(page, f"{language} /login", ARTIFACTS / "a11y" / language / "sign-in.png")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        problems += check_page(
            page, f"{language} /login (refused)", ARTIFACTS / "a11y" / language / "sign-in-refused.png"
        )
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/login/2fa.*"))
        problems += check_page(page, f"{language} /login/2fa", ARTIFACTS / "a11y" / language / "sign-in-2fa.png")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
