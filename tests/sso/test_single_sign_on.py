"""Single sign-on with OpenID Connect against a real provider (node's oidc-provider): the code
flow with PKCE, state and nonce through the portal, and each way it must refuse."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.auth import sessions
from audit_portal.auth.models import UserAccount
from audit_portal.auth.service import NO_ACCESS, PASSWORD_LOGIN_OFF
from audit_portal.clock import utcnow
from audit_portal.sso.models import SsoIdentity, SsoPendingLogin
from audit_portal.sso.service import BROWSER_COOKIE, NO_MAPPED_GROUP, NO_ROLE, STALE_SIGN_IN
from tests.conftest import TEST_PASSWORD
from tests.sso.conftest import PORTAL, portal_client, provider_sign_in


def _account(session, username):  # type: ignore[no-untyped-def]
    return session.exec(select(UserAccount).where(UserAccount.username == username)).first()


def _signed_in(portal) -> bool:  # type: ignore[no-untyped-def]
    return portal.get("/evidence").status_code == 200


def test_first_sign_in_creates_the_account_with_the_mapped_role(app, session):
    portal = portal_client(app)
    callback = provider_sign_in(portal, "alice", mfa=False)
    assert callback.status_code == 303
    assert callback.headers["location"] == "/evidence"
    assert _signed_in(portal)
    alice = _account(session, "alice")
    assert alice.role == "it" and alice.totp_enabled_at is None
    link = session.exec(select(SsoIdentity).where(SsoIdentity.user_id == alice.id)).one()
    assert link.subject == "alice" and link.groups == ["isms-it", "staff"]
    assert session.exec(select(SsoPendingLogin)).all() == []
    logins = session.exec(
        select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.actor == "alice")
    ).all()
    assert [json.loads(event.detail)["method"] for event in logins] == ["sso"]

    # A second sign-in finds the same account (by issuer and subject), no new one.
    assert provider_sign_in(portal_client(app), "alice", mfa=False).status_code == 303
    assert len(session.exec(select(SsoIdentity)).all()) == 1


@pytest.mark.parametrize(("mfa", "expected"), [(True, "/evidence"), (False, "/login/2fa?next=/evidence")])
def test_totp_is_skipped_only_when_the_provider_asserts_mfa(app, session, mfa, expected):
    portal = portal_client(app)
    callback = provider_sign_in(portal, "adam", mfa=mfa)  # admins must use a second factor
    assert callback.status_code == 303
    assert callback.headers["location"] == expected
    assert _account(session, "adam").role == "admin"
    assert _signed_in(portal) is mfa


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-application"}, "aud"),
        ({"exp": -120, "iat": -600}, "exp"),
        ({"nonce": "a-nonce-from-another-sign-in"}, "nonce"),
        ({"iss": "https://impostor.example"}, "iss"),
    ],
    ids=["wrong-audience", "expired", "wrong-nonce", "wrong-issuer"],
)
def test_an_unacceptable_id_token_is_refused(app, session, openid_provider, changes, reason):
    portal = portal_client(app)
    openid_provider.next_id_token(**changes)
    callback = provider_sign_in(portal, "alice", mfa=True)
    assert callback.status_code == 400
    assert "was not acceptable" in callback.text
    assert sessions.COOKIE_NAME not in portal.cookies
    assert not _signed_in(portal)
    assert _account(session, "alice") is None
    refusal = session.exec(
        select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.outcome == "refused")
    ).one()
    assert reason in json.loads(refusal.detail)["reason"]


def test_a_replayed_answer_is_refused(app):
    portal = portal_client(app)
    callback = provider_sign_in(portal, "alice", mfa=False)
    assert callback.status_code == 303
    answer_url = callback.request.url
    # The same answer again, even from a browser that kept the binding cookie.
    replay = portal_client(app)
    replay.cookies.set(BROWSER_COOKIE, "whatever-the-attacker-kept", path="/login/sso/callback")
    again = replay.get(str(answer_url))
    assert again.status_code == 400
    assert STALE_SIGN_IN in again.text
    assert sessions.COOKIE_NAME not in replay.cookies


def test_an_answer_delivered_to_another_browser_is_refused(app):
    """Login CSRF: the provider's answer to a sign-in the attacker started, planted in the
    victim's browser, does not sign the victim in as the attacker."""
    attacker, victim = portal_client(app), portal_client(app)
    planted = provider_sign_in(attacker, "alice", mfa=False, deliver_to=victim)
    assert planted.status_code == 400
    assert STALE_SIGN_IN in planted.text
    assert sessions.COOKIE_NAME not in victim.cookies


def test_a_refused_sso_sign_in_is_explained_in_the_browsers_language(app):
    attacker, victim = portal_client(app), portal_client(app)
    victim.headers["Accept-Language"] = "nl"
    planted = provider_sign_in(attacker, "alice", mfa=False, deliver_to=victim)
    assert planted.status_code == 400
    assert "Deze aanmelding is al gebruikt of verlopen. Begin opnieuw." in planted.text
    assert STALE_SIGN_IN not in planted.text
    dutch = portal_client(app)
    dutch.headers["Accept-Language"] = "nl"
    nora = provider_sign_in(dutch, "nora", mfa=True)
    assert nora.status_code == 403 and "Uw account heeft nog geen rol in de portal" in nora.text


def test_a_user_without_a_mapped_group_gets_an_account_without_access(app, session):
    portal = portal_client(app)
    callback = provider_sign_in(portal, "nora", mfa=True)
    assert callback.status_code == 403
    assert NO_MAPPED_GROUP in callback.text.replace("&#39;", "'")
    assert _account(session, "nora").role == NO_ROLE
    assert not _signed_in(portal)


def test_a_group_removed_in_the_directory_takes_the_role_at_the_next_sign_in(app, session, openid_provider):
    portal = portal_client(app)
    assert provider_sign_in(portal, "alice", mfa=False).status_code == 303
    openid_provider.next_id_token(groups=["staff"])
    again = provider_sign_in(portal_client(app), "alice", mfa=False)
    assert again.status_code == 403
    assert _account(session, "alice").role == NO_ROLE
    assert not _signed_in(portal)  # the earlier session ended with the role


def test_auditor_access_windows_apply(app, session):
    first = provider_sign_in(portal_client(app), "ava", mfa=True)
    assert first.status_code == 403 and NO_ACCESS in first.text  # no window set yet
    auditor = _account(session, "ava.auditor")
    assert auditor.role == "auditor"

    auditor.valid_until = utcnow() + timedelta(days=30)
    session.commit()
    portal = portal_client(app)
    assert provider_sign_in(portal, "ava", mfa=True).headers["location"] == "/evidence"
    assert _signed_in(portal)

    auditor.valid_from, auditor.valid_until = utcnow() - timedelta(days=60), utcnow() - timedelta(days=1)
    session.commit()
    ended = provider_sign_in(portal_client(app), "ava", mfa=True)
    assert ended.status_code == 403 and NO_ACCESS in ended.text


def test_sign_out_ends_the_portal_session_and_the_providers(app, session, openid_provider):
    portal = portal_client(app)
    assert provider_sign_in(portal, "alice", mfa=False).status_code == 303
    web_session = session.exec(select(sessions.WebSession)).one()
    out = portal.post("/logout", headers={"X-CSRF-Token": web_session.csrf_token})
    assert out.status_code == 303
    target = urlsplit(out.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == openid_provider.issuer
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [f"{PORTAL}/login"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not _signed_in(portal)

    import httpx

    with httpx.Client(follow_redirects=False) as browser:
        confirm = browser.get(out.headers["location"])
        assert confirm.status_code == 200
        xsrf = __import__("re").search(r'name="xsrf" value="([^"]+)"', confirm.text).group(1)
        action = __import__("re").search(r'action="([^"]+)"', confirm.text).group(1)
        done = browser.post(httpx.URL(out.headers["location"]).join(action), data={"xsrf": xsrf, "logout": "yes"})
        assert done.is_redirect
        assert done.headers["location"].startswith(f"{PORTAL}/login")


@pytest.mark.parametrize("sso_options", [{"password_login_enabled": False, "break_glass_admins": "root.admin"}])
def test_password_sign_in_off_except_the_break_glass_admin(app, make_user):
    make_user("it", username="local.it")
    make_user("admin", username="root.admin")
    make_user("admin", username="other.admin")
    for username, status in (("local.it", 403), ("other.admin", 403), ("root.admin", 303)):
        client = portal_client(app)
        form = client.get("/login")
        token = client.cookies["portal_csrf"]
        answer = client.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token})
        assert answer.status_code == status, (username, answer.text[:300])
        if status == 403:
            assert PASSWORD_LOGIN_OFF in answer.text
        assert "Sign in with single sign-on" in form.text


def test_the_sign_in_page_offers_single_sign_on(app):
    page = portal_client(app).get("/login")
    assert 'href="/login/sso?next=/"' in page.text or 'href="/login/sso?next=%2F"' in page.text


def test_administrators_see_accounts_created_by_single_sign_on(app, session, login_as):
    assert provider_sign_in(portal_client(app), "nora", mfa=True).status_code == 403
    nora = _account(session, "nora")
    admin = login_as("admin")
    listing = admin.get("/admin/users")
    assert listing.status_code == 200 and "nora" in listing.text
    page = admin.get(f"/admin/users/{nora.id}")
    assert page.status_code == 200 and "nora" in page.text
