from __future__ import annotations

import re

import pyotp
from sqlmodel import select

from audit_portal.auth import second_factor
from audit_portal.auth import service as auth_service
from audit_portal.auth.models import RecoveryCode, UserAccount
from audit_portal.clock import utcnow
from tests.conftest import TEST_PASSWORD
from tests.security.conftest import post_login


def _secret_on_page(text: str) -> str:
    return re.search(r'<code class="break">([A-Z2-7]+)</code>', text).group(1)


def _csrf_on_page(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def _codes_on_page(text: str) -> list[str]:
    return re.findall(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>", text)


def test_an_admin_must_enrol_on_first_sign_in(client, make_user, session):
    make_user("admin", "root.admin")
    response = post_login(client, "root.admin", TEST_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/login/2fa?next=/"
    assert client.get("/profile", follow_redirects=False).status_code == 303  # not signed in yet

    page = client.get("/login/2fa")
    assert page.status_code == 200 and "<svg" in page.text  # QR drawn locally, inline
    secret = _secret_on_page(page.text)
    code = pyotp.TOTP(secret).now()
    done = client.post(
        "/login/2fa", data={"code": code, "next": "/", "csrf_token": _csrf_on_page(page.text)}, follow_redirects=False
    )
    assert done.status_code == 200
    codes = _codes_on_page(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/profile", follow_redirects=False).status_code == 200

    stored = session.exec(select(RecoveryCode)).all()
    assert len(stored) == 10 and all(code.replace("-", "") not in row.code_hash for row, code in zip(stored, codes))


def _enrolled_user(session, make_user, role="auditor", username="aud.itor"):
    user = make_user(role, username)
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = utcnow()
    codes = second_factor.replace_recovery_codes(session, user)
    session.commit()
    return user, codes


def _second_step(client, code):
    page = client.get("/login/2fa")
    return client.post(
        "/login/2fa", data={"code": code, "next": "/", "csrf_token": _csrf_on_page(page.text)}, follow_redirects=False
    )


def test_a_wrong_code_is_refused_in_the_form(client, make_user, session):
    _enrolled_user(session, make_user)
    post_login(client, "aud.itor", TEST_PASSWORD)
    response = _second_step(client, "000000")
    assert response.status_code == 400 and "not valid" in response.text
    assert client.get("/profile", follow_redirects=False).status_code == 303


def test_a_totp_code_works_once(client, app, make_user, session):
    from fastapi.testclient import TestClient

    user, _ = _enrolled_user(session, make_user)
    code = pyotp.TOTP(user.totp_secret).now()
    post_login(client, "aud.itor", TEST_PASSWORD)
    assert _second_step(client, code).headers["location"] == "/"
    with TestClient(app) as other:
        post_login(other, "aud.itor", TEST_PASSWORD)
        assert _second_step(other, code).status_code == 400  # replayed


def test_a_recovery_code_works_once(client, app, make_user, session):
    from fastapi.testclient import TestClient

    _, codes = _enrolled_user(session, make_user)
    post_login(client, "aud.itor", TEST_PASSWORD)
    assert _second_step(client, codes[3].upper()).status_code == 303
    with TestClient(app) as other:
        post_login(other, "aud.itor", TEST_PASSWORD)
        assert _second_step(other, codes[3]).status_code == 400


def test_five_wrong_codes_lock_the_account(client, make_user, session):
    _enrolled_user(session, make_user)
    post_login(client, "aud.itor", TEST_PASSWORD)
    answers = [_second_step(client, "123456").status_code for _ in range(5)]
    assert answers == [400] * 5
    assert post_login(client, "aud.itor", TEST_PASSWORD).status_code == 429


def test_second_factor_is_optional_for_it_unless_required_for_all(client, app, make_user, session):
    from fastapi.testclient import TestClient

    make_user("it", "it.ops")
    assert post_login(client, "it.ops", TEST_PASSWORD).headers["location"] == "/"
    from audit_portal.portal import service as portal_settings

    portal_settings.set_flag(session, auth_service.REQUIRE_2FA_FOR_ALL, True)
    session.commit()
    with TestClient(app) as other:
        assert post_login(other, "it.ops", TEST_PASSWORD).headers["location"].startswith("/login/2fa")


def test_enrolment_from_the_profile(login_as, session):
    client = login_as("management")
    assert client.post("/profile/2fa").headers["location"] == "/profile/2fa"
    page = client.get("/profile/2fa")
    assert "<svg" in page.text
    user = session.get(UserAccount, client.user.id)
    done = client.post("/profile/2fa/confirm", data={"code": pyotp.TOTP(user.totp_secret).now()})
    assert done.status_code == 200 and len(_codes_on_page(done.text)) == 10
    assert user.totp_enabled_at is not None
    assert "Recovery codes left: <strong>10</strong>" in client.get("/profile").text


def test_admin_resets_a_lost_second_factor(login_as, make_user, session):
    user, _ = _enrolled_user(session, make_user)
    admin = login_as("admin")
    assert admin.post(f"/admin/users/{user.id}/reset-2fa").status_code == 200
    session.refresh(user)
    assert user.totp_secret is None and user.totp_enabled_at is None
    assert session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []


def test_the_page_says_each_code_works_once_and_what_to_do_when_refused(client, app, make_user, session):
    from fastapi.testclient import TestClient

    user, _ = _enrolled_user(session, make_user)
    post_login(client, "aud.itor", TEST_PASSWORD)
    page = client.get("/login/2fa")
    assert "Each code works once" in page.text and "wait for the next one" in page.text
    code = pyotp.TOTP(user.totp_secret).now()
    assert _second_step(client, code).status_code == 303
    with TestClient(app) as other:
        post_login(other, "aud.itor", TEST_PASSWORD)
        refused = _second_step(other, code)
        assert refused.status_code == 400
        assert "already used (each code works once)" in refused.text
        assert "Wait for the next code from your app" in refused.text
