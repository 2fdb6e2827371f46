from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from audit_portal.auth import passwords, sessions
from audit_portal.auth import service as auth_service
from audit_portal.auth.models import WebSession
from audit_portal.errors import InvalidInput
from audit_portal.principals import Actor
from tests.conftest import TEST_PASSWORD
from tests.security.conftest import post_login


def test_passwords_are_hashed_with_argon2id():
    hashed = passwords.hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "a long enough passphrase")
    assert not passwords.verify_password(hashed, "another long passphrase")


def test_the_common_password_list_is_shipped_and_large():
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert {"password", "123456", "qwerty"} <= common


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short pass", "at least 12"),
        ("PASSWORD1234", "common or breached"),  # compared case-insensitively
        ("xxmarie.curie-2026", "user name"),
    ],
)
def test_password_rules_follow_nist(password, problem):
    problems = passwords.password_problems(password, "marie.curie")
    assert any(problem in text for text in problems)


def test_no_composition_rules():
    assert passwords.password_problems("all lower case words here", "marie.curie") == []


def test_an_expired_auditor_cannot_sign_in(client, make_user, frozen_clock, session):
    now = frozen_clock.now
    make_user("auditor", "auditor.old", valid_from=now - timedelta(days=30), valid_until=now - timedelta(minutes=1))
    response = post_login(client, "auditor.old", TEST_PASSWORD)
    assert response.status_code == 403
    assert "no access at this time" in response.text
    assert session.exec(select(WebSession)).all() == []


def test_an_auditor_before_the_window_cannot_sign_in(client, make_user, frozen_clock):
    now = frozen_clock.now
    make_user("auditor", "auditor.early", valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=30))
    assert post_login(client, "auditor.early", TEST_PASSWORD).status_code == 403


def test_an_auditor_session_ends_with_the_window(login_as, make_user, frozen_clock):
    auditor = make_user("auditor", valid_until=frozen_clock.now + timedelta(hours=1))
    client = login_as(auditor)
    assert client.get("/profile").status_code == 200
    frozen_clock.advance(hours=1, seconds=1)
    assert client.get("/profile").status_code == 303


def test_an_admin_revokes_an_auditor_at_once(login_as, session):
    auditor_client = login_as("auditor")
    admin = login_as("admin")
    assert auditor_client.get("/profile").status_code == 200
    response = admin.post(f"/admin/users/{auditor_client.user.id}/revoke")
    assert response.status_code == 200 and "revoked" in response.text
    assert auditor_client.get("/profile").status_code == 303
    assert session.exec(select(WebSession).where(WebSession.user_id == auditor_client.user.id)).all() == []


def test_idle_timeout_ends_the_session(login_as, frozen_clock):
    client = login_as("it")
    frozen_clock.advance(minutes=29)
    assert client.get("/profile").status_code == 200
    frozen_clock.advance(minutes=30, seconds=1)
    assert client.get("/profile").status_code == 303


def test_absolute_timeout_ends_an_active_session(login_as, frozen_clock):
    client = login_as("it")
    for _ in range(11 * 3):  # twenty-minute steps keep it from idling, up to 11 hours
        frozen_clock.advance(minutes=20)
        assert client.get("/profile").status_code == 200
    frozen_clock.advance(minutes=61)  # past 12 hours since sign-in, 1 minute idle
    client.get("/profile")  # refreshes last_seen within the idle window
    assert client.get("/profile").status_code == 303


def test_changing_the_password_ends_the_other_sessions(login_as, make_user, session):
    user = make_user("it")
    here, elsewhere = login_as(user), login_as(user)
    new_password = "a brand new passphrase 77"
    response = here.post(
        "/profile/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": new_password,
            "confirm_password": new_password,
        },
    )
    assert response.status_code == 200 and "Password changed" in response.text
    assert here.get("/profile").status_code == 200
    assert elsewhere.get("/profile").status_code == 303
    assert passwords.verify_password(user.password_hash, new_password)


def test_a_refused_new_password_is_shown_in_the_form(login_as):
    client = login_as("it")
    response = client.post(
        "/profile/password",
        data={
            "current_password": TEST_PASSWORD,
            "new_password": "password1234",
            "confirm_password": "password1234",
        },
    )
    assert response.status_code == 422
    assert "common or breached" in response.text and "<form" in response.text


def test_create_user_refuses_an_auditor_without_window(session):
    with pytest.raises(InvalidInput, match="access window"):
        auth_service.create_user(
            session, username="aud", role="auditor", password="long enough pass phrase", actor=Actor.system("test")
        )


def test_role_change_ends_the_users_sessions(login_as, make_user, session):
    user = make_user("it")
    client = login_as(user)
    admin = login_as("admin")
    admin.post(f"/admin/users/{user.id}", data={"role": "management", "valid_from": "", "valid_until": ""})
    assert client.get("/admin/tokens").status_code == 303
    assert sessions.STAGE_SIGNED_IN  # the module's stage names are the ones the table stores
