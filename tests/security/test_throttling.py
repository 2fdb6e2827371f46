from __future__ import annotations

from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from tests.conftest import TEST_PASSWORD
from tests.security.conftest import post_login


def test_a_locked_out_account_stays_locked_for_the_window(client, make_user, frozen_clock, session):
    make_user("it", "it.ops")
    for _ in range(5):
        assert post_login(client, "it.ops", "wrong-password-here").status_code in (400, 429)

    refused = post_login(client, "it.ops", TEST_PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.text
    assert "portal_session" not in refused.headers.get("set-cookie", "")

    frozen_clock.advance(minutes=14, seconds=59)
    assert post_login(client, "it.ops", TEST_PASSWORD).status_code == 429

    frozen_clock.advance(seconds=2)
    assert post_login(client, "it.ops", TEST_PASSWORD).status_code == 303

    outcomes = [
        e.outcome for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all() if e.action == "auth.login"
    ]
    assert outcomes == ["failure"] * 5 + ["refused", "refused", "success"]


def test_four_failures_do_not_lock(client, make_user):
    make_user("it", "it.ops")
    for _ in range(4):
        assert post_login(client, "it.ops", "wrong-password-here").status_code == 400
    assert post_login(client, "it.ops", TEST_PASSWORD).status_code == 303


def test_failures_older_than_the_window_do_not_count(client, make_user, frozen_clock):
    make_user("it", "it.ops")
    for _ in range(4):
        post_login(client, "it.ops", "wrong-password-here")
    frozen_clock.advance(minutes=16)
    assert post_login(client, "it.ops", "wrong-password-here").status_code == 400
    assert post_login(client, "it.ops", TEST_PASSWORD).status_code == 303


def test_an_unknown_user_name_locks_like_a_real_one(client):
    answers = [post_login(client, "ghost", "wrong-password-here").status_code for _ in range(6)]
    assert answers == [400, 400, 400, 400, 429, 429]


def test_twenty_failures_from_one_address_lock_that_address(client, make_user):
    make_user("it", "it.ops")
    for attempt in range(20):
        post_login(client, f"guess{attempt}", "wrong-password-here")
    refused = post_login(client, "it.ops", TEST_PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.text
