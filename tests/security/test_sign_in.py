from __future__ import annotations

from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.auth.models import WebSession
from tests.conftest import TEST_PASSWORD
from tests.security.conftest import anonymous_csrf, post_login


def _events(session, action="auth.login"):
    return session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_sign_in_with_password_opens_a_session_in_an_httponly_lax_cookie(client, make_user, session):
    make_user("it", "it.ops")
    response = post_login(client, "it.ops", TEST_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "portal_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in this test
    page = client.get("/profile")
    assert page.status_code == 200 and "it.ops" in page.text
    assert [e.outcome for e in _events(session)] == ["success"]


def test_sign_in_over_https_sets_a_secure_cookie(app, make_user):
    from fastapi.testclient import TestClient

    make_user("it", "it.ops")
    with TestClient(app, base_url="https://testserver") as client:
        response = post_login(client, "it.ops", TEST_PASSWORD)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_unknown_user_and_wrong_password_get_the_same_answer(client, make_user, session):
    make_user("it", "it.ops")
    wrong_password = post_login(client, "it.ops", "not-the-password-at-all")
    unknown_user = post_login(client, "nobody.here", "not-the-password-at-all")
    assert wrong_password.status_code == unknown_user.status_code == 400
    assert "Wrong user name or password." in wrong_password.text
    strip = lambda text: text.replace("it.ops", "").replace("nobody.here", "")
    assert strip(wrong_password.text) == strip(unknown_user.text)
    failures = _events(session)
    assert [(e.actor, e.outcome) for e in failures] == [("it.ops", "failure"), ("nobody.here", "failure")]


def test_next_only_redirects_within_the_site(client, make_user):
    make_user("it", "it.ops")
    response = post_login(client, "it.ops", TEST_PASSWORD, next="//evil.example/")
    assert response.headers["location"] == "/"


def test_anonymous_page_request_is_sent_to_sign_in_with_next(client):
    response = client.get("/admin/users?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/users%3Fx%3D1"


def test_sign_out_deletes_the_session(login_as, session):
    client = login_as("it")
    assert session.exec(select(WebSession)).all()
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert session.exec(select(WebSession)).all() == []
    assert client.get("/profile").status_code == 303


def test_a_signed_in_user_visiting_sign_in_goes_home(login_as):
    client = login_as("management")
    assert client.get("/login").headers["location"] == "/"


def test_the_sign_in_form_hands_out_a_signed_csrf_cookie(client):
    token = anonymous_csrf(client)
    nonce, signature = token.split(".")
    assert nonce and len(signature) == 32
