"""Refused access is an audit event (actor, route, reason), and a flood of refusals cannot fill
the log."""

from __future__ import annotations

import json

from sqlmodel import select

from audit_portal.audit import refusals
from audit_portal.audit.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.engagements.fixtures import catalogue  # noqa: F401 - the fixture audits needs
from tests.security.conftest import post_login
from tests.security.test_scope import audits  # noqa: F401 - the fixture


def _refusals(session, action: str = refusals.REFUSED) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all())


def test_an_out_of_scope_404_is_logged_with_actor_route_and_reason(audits, login_as, session):  # noqa: F811
    client = login_as(audits.auditor)
    assert client.get(f"/engagements/{audits.other.engagement.id}/controls").status_code == 404
    (event,) = _refusals(session)
    detail = json.loads(event.detail)
    assert event.actor == audits.auditor.username and event.outcome == "refused"
    assert detail["reason"] == "out of scope" and detail["status"] == 404
    assert detail["route"] == "GET /engagements/{engagement_id}/controls"
    # a 404 for what simply does not exist is not a refusal
    assert client.get("/no-such-page").status_code == 404
    assert len(_refusals(session)) == 1


def test_a_403_and_a_refused_token_are_logged(client, login_as, session):
    it = login_as("it")
    assert it.get("/admin/users").status_code == 403
    assert client.get("/api/v1/evidence", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    forbidden, token = _refusals(session)
    assert forbidden.actor == it.user.username
    assert json.loads(forbidden.detail)["reason"] == "not allowed for the role"
    assert json.loads(forbidden.detail)["route"] == "GET /admin/users"
    assert token.actor == "anonymous"
    assert json.loads(token.detail)["reason"] == "service token refused"
    # an anonymous visitor sent to the sign-in page is not refused, only asked to sign in
    assert client.get("/evidence", follow_redirects=False).status_code == 303
    assert len(_refusals(session)) == 2


def test_a_failed_sign_in_names_the_route_and_reason(client, make_user, session):
    make_user("it", "it.ops")
    post_login(client, "it.ops", "wrong-password-here")
    (event,) = [e for e in _refusals(session, "auth.login") if e.outcome == "failure"]
    assert event.actor == "it.ops"
    assert json.loads(event.detail) == {"reason": "wrong credentials", "route": "POST /login"}


def test_a_flood_is_logged_up_to_the_limit_then_counted(login_as, session, frozen_clock):
    frozen_clock.now = frozen_clock.now.replace(second=1)
    it = login_as("it")
    for _ in range(refusals.PER_SOURCE_PER_MINUTE + 15):
        assert it.get("/admin/users").status_code == 403
    assert len(_refusals(session)) == refusals.PER_SOURCE_PER_MINUTE

    frozen_clock.advance(minutes=1)
    assert it.get("/admin/users").status_code == 403
    events = _refusals(session)
    assert len(events) == refusals.PER_SOURCE_PER_MINUTE + 1
    assert json.loads(events[-1].detail)["suppressed_before"] == 15


def test_sources_are_limited_together_too_and_forgotten_floods_are_summarised(
    login_as, session, frozen_clock, monkeypatch
):
    frozen_clock.now = frozen_clock.now.replace(second=1)
    monkeypatch.setattr(refusals, "ALL_SOURCES_PER_MINUTE", 4)
    clients = [login_as("it") for _ in range(3)]
    for client in clients:
        for _ in range(2):
            assert client.get("/admin/users").status_code == 403
    assert len(_refusals(session)) == 4

    frozen_clock.advance(hours=2)
    assert login_as("management").get("/admin/users").status_code == 403
    (summary,) = _refusals(session, refusals.SUPPRESSED)
    assert json.loads(summary.detail) == {"suppressed_by_reason": {"not allowed for the role": 2}}
    assert len(_refusals(session)) == 5


def test_throttled_sign_ins_are_limited_as_well(client, make_user, session, frozen_clock):
    frozen_clock.now = frozen_clock.now.replace(second=1)
    make_user("it", "it.ops")
    for _ in range(5):
        post_login(client, "it.ops", "wrong-password-here")
    for _ in range(20):
        assert post_login(client, "it.ops", TEST_PASSWORD).status_code == 429
    refused = [e for e in _refusals(session, "auth.login") if e.outcome == "refused"]
    assert len(refused) == refusals.PER_SOURCE_PER_MINUTE
