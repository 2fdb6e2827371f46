from __future__ import annotations

from sqlmodel import select

from audit_portal.auth.models import UserAccount
from audit_portal.security import CONTENT_SECURITY_POLICY
from tests.conftest import TEST_PASSWORD


def _user_named(session, username):
    return session.exec(select(UserAccount).where(UserAccount.username == username)).first()


def test_a_post_without_the_csrf_token_gets_403_and_changes_nothing(login_as, session):
    admin = login_as("admin")
    del admin.headers["X-CSRF-Token"]
    response = admin.post("/admin/users", data={"username": "new.person", "role": "it"})
    assert response.status_code == 403
    assert "security token" in response.text
    assert _user_named(session, "new.person") is None


def test_a_post_with_a_wrong_csrf_token_gets_403(login_as, session):
    admin = login_as("admin")
    admin.headers["X-CSRF-Token"] = "forged"
    assert admin.post("/admin/users", data={"username": "new.person", "role": "it"}).status_code == 403
    assert _user_named(session, "new.person") is None


def test_the_form_field_is_accepted(login_as, session):
    admin = login_as("admin")
    token = admin.headers.pop("X-CSRF-Token")
    response = admin.post("/admin/users", data={"username": "new.person", "role": "it", "csrf_token": token})
    assert response.status_code == 200
    assert _user_named(session, "new.person") is not None


def test_another_sessions_token_is_refused(login_as, session):
    admin, other = login_as("admin"), login_as("admin")
    admin.headers["X-CSRF-Token"] = other.headers["X-CSRF-Token"]
    assert admin.post("/admin/users", data={"username": "new.person", "role": "it"}).status_code == 403


def test_multipart_needs_the_header(login_as, session):
    admin = login_as("admin")
    token = admin.headers.pop("X-CSRF-Token")
    response = admin.post(
        "/admin/users",
        data={"username": "new.person", "role": "it", "csrf_token": token},
        files={"attachment": ("a.txt", b"x")},
    )
    assert response.status_code == 403
    assert _user_named(session, "new.person") is None


def test_sign_in_without_the_double_submit_token_is_refused(client, make_user, session):
    make_user("it", "it.ops")
    response = client.post("/login", data={"username": "it.ops", "password": TEST_PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "portal_session" not in response.headers.get("set-cookie", "")


def test_sign_in_with_a_forged_double_submit_token_is_refused(client, make_user):
    make_user("it", "it.ops")
    client.cookies.set("portal_csrf", "made.up")
    response = client.post(
        "/login",
        data={"username": "it.ops", "password": TEST_PASSWORD, "csrf_token": "made.up"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_security_headers_on_pages_errors_and_static_files(client):
    for path in ("/login", "/no-such-page", "/static/portal.css", "/healthz"):
        headers = client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers


def test_hsts_only_over_https(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=")


def test_pages_carry_no_inline_script(login_as):
    admin = login_as("admin")
    for path in ("/admin/users", "/admin/tokens", "/admin/audit-log", "/profile"):
        text = admin.get(path).text
        assert "<script>" not in text and " onclick=" not in text, path
