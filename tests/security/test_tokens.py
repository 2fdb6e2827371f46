from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from fastapi import APIRouter

from audit_portal.auth import tokens
from audit_portal.authz import Authorize, Principal
from audit_portal.principals import Actor


@pytest.fixture
def push_route(app):
    """A stand-in for the evidence push endpoint (added by the evidence domain)."""
    router = APIRouter()

    @router.post("/api/v1/test-push/{instance}")
    def push(instance: str, principal: Annotated[Principal, Authorize("evidence:push")]) -> dict:
        return {"by": principal.username, "in_scope": principal.may_push_for(instance)}

    app.include_router(router)
    return "/api/v1/test-push"


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_pushes_and_knows_its_scope(client, session, push_route):
    issued = tokens.create(session, name="host-a", scopes=["restic-a"], days=30, actor=Actor.system("test"))
    response = client.post(f"{push_route}/restic-a", headers=_bearer(issued.secret))
    assert response.status_code == 200
    assert response.json() == {"by": "token:host-a", "in_scope": True}
    assert client.post(f"{push_route}/other", headers=_bearer(issued.secret)).json()["in_scope"] is False


def test_a_push_needs_no_csrf_token_but_a_cookie_session_does(login_as, push_route):
    it = login_as("it")
    del it.headers["X-CSRF-Token"]
    assert it.post(f"{push_route}/x").status_code == 403  # 'it' may not push, tokens only


def test_a_revoked_token_gets_401(client, session, push_route):
    issued = tokens.create(session, name="host-a", scopes=["restic-a"], days=30, actor=Actor.system("test"))
    tokens.revoke(session, issued.token.id, actor=Actor.system("test"))
    response = client.post(f"{push_route}/restic-a", headers=_bearer(issued.secret))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_an_expired_token_gets_401(client, session, push_route, frozen_clock):
    issued = tokens.create(session, name="host-a", scopes=["restic-a"], days=1, actor=Actor.system("test"))
    frozen_clock.advance(days=1, seconds=1)
    assert client.post(f"{push_route}/restic-a", headers=_bearer(issued.secret)).status_code == 401


def test_an_unknown_token_gets_401(client, push_route):
    assert client.post(f"{push_route}/x", headers=_bearer("apt_nonsense")).status_code == 401


def test_a_token_reaches_nothing_but_push(client, session):
    issued = tokens.create(session, name="host-a", scopes=["restic-a"], days=30, actor=Actor.system("test"))
    session.commit()  # a refused request rolls back; the token was issued before it
    for path in ("/profile", "/admin/tokens", "/admin/users"):
        response = client.get(path, headers=_bearer(issued.secret), follow_redirects=False)
        assert response.status_code == 403, (path, response.text)


def test_tokens_are_stored_hashed(session):
    issued = tokens.create(session, name="host-a", scopes=["a"], days=30, actor=Actor.system("test"))
    assert issued.secret not in issued.token.token_hash and len(issued.token.token_hash) == 64


def test_admin_creates_a_token_shown_once_and_revokes_it(login_as, session):
    admin = login_as("it")
    page = admin.post("/admin/tokens", data={"name": "backup host", "scopes": "restic-a\nborg-b", "days": "30"})
    assert page.status_code == 200
    secret = page.text.split('<code class="break">')[1].split("</code>")[0]
    assert secret.startswith("apt_")
    assert secret not in admin.get("/admin/tokens").text
    token = tokens.list_tokens(session)[0]
    assert tokens.scopes_of(token) == {"restic-a", "borg-b"}
    assert tokens.authenticate(session, secret) is not None
    admin.post(f"/admin/tokens/{token.id}/revoke")
    assert tokens.authenticate(session, secret) is None


def test_token_lifetime_is_bounded(login_as):
    response = login_as("admin").post("/admin/tokens", data={"name": "x", "scopes": "a", "days": "5000"})
    assert response.status_code == 422 and "expires after" in response.text


def test_expiry_is_in_the_future(session):
    issued = tokens.create(session, name="x", scopes=["a"], days=7, actor=Actor.system("test"))
    assert issued.token.expires_at - issued.token.created_at == timedelta(days=7)
