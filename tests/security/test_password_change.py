"""A password an administrator issued (a new account, a reset) must be changed at first sign-in:
until then every route but the password change (and public ones such as sign-out) sends a
browser to the change and refuses an API client."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from audit_portal.auth.models import UserAccount
from audit_portal.authz import MATRIX, PASSWORD_CHANGE_ROUTES, app_routes, route_action
from tests.security.conftest import post_login
from tests.security.test_matrix import _concrete

NEW_PASSWORD = "quiet-lantern-orchard-meadow-7"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _issued_password(page: str) -> str:
    return re.search(r'<code class="break">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]


def _held_at_the_change(response) -> bool:  # type: ignore[no-untyped-def]
    if response.status_code == 303:
        return response.headers["location"] == "/profile"
    if response.status_code == 204:
        return response.headers.get("hx-redirect") == "/profile"
    return response.status_code == 403 and "password" in response.text.lower()


def test_a_new_account_changes_its_initial_password_before_anything_else(app, login_as, session):
    admin = login_as("admin")
    created = admin.post("/admin/users", data={"username": "new.it", "role": "it"})
    assert created.status_code == 200
    issued = _issued_password(created.text)
    user = session.exec(select(UserAccount).where(UserAccount.username == "new.it")).one()
    assert user.password_must_change

    browser = TestClient(app, follow_redirects=False)
    assert post_login(browser, "new.it", issued).status_code == 303
    for path in ("/", "/evidence", "/collectors", "/profile/2fa"):
        answer = browser.get(path)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/profile"), path
    assert browser.get("/", headers={"HX-Request": "true"}).headers["hx-redirect"] == "/profile"
    api = browser.get("/api/v1/evidence")
    assert api.status_code == 403 and api.json()["type"] == "/problems/password-change-required"

    profile = browser.get("/profile")
    assert profile.status_code == 200 and "choose your own before you go on" in profile.text
    token = _csrf(profile.text)
    same = browser.post(
        "/profile/password",
        data={"current_password": issued, "new_password": issued, "confirm_password": issued, "csrf_token": token},
    )
    assert same.status_code == 422
    assert browser.get("/").status_code == 303
    changed = browser.post(
        "/profile/password",
        data={
            "current_password": issued,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert changed.status_code == 200 and "Password changed" in changed.text
    session.refresh(user)
    assert not user.password_must_change
    assert browser.get("/").status_code == 200
    assert browser.get("/evidence").status_code == 200


def test_an_admin_reset_must_be_changed_too(app, login_as, session, make_user):
    user = make_user("management")
    admin = login_as("admin")
    reset = admin.post(f"/admin/users/{user.id}/reset-password")
    assert reset.status_code == 200
    issued = _issued_password(reset.text)
    session.refresh(user)
    assert user.password_must_change
    browser = TestClient(app, follow_redirects=False)
    assert post_login(browser, user.username, issued).status_code == 303
    assert browser.get("/reports").headers.get("location") == "/profile"


def test_an_own_password_is_not_held(login_as, make_user):
    user = make_user("it")
    assert not user.password_must_change
    assert login_as(user).get("/").status_code == 200


@pytest.mark.parametrize("role", ["admin", "it", "auditor", "management"])
def test_no_route_but_the_change_is_reachable(app, login_as, make_user, role):
    """Every route of the app, as test_matrix walks them, for a user who must change."""
    checked = 0
    for route in app_routes(app):
        action = route_action(route)
        if action is None or action == "public" or role not in MATRIX[action]:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            client = login_as(make_user(role, password_must_change=True))
            response = client.request(method, _concrete(route.path))
            label = f"{method} {route.path} as {role}: {response.status_code}"
            if (method, route.path) in PASSWORD_CHANGE_ROUTES:
                assert not _held_at_the_change(response), label
            else:
                assert _held_at_the_change(response), label
            checked += 1
    assert checked > 10
