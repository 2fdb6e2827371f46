"""``audit-portal audit checkpoint`` and ``audit verify`` as an operator runs them, against a
database and an evidence store of their own."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from audit_portal.audit.service import record_event
from audit_portal.cli import app as cli
from audit_portal.db import unit_of_work
from audit_portal.principals import Actor
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def portal(committed_database, tmp_path, monkeypatch):
    url, engine = committed_database
    monkeypatch.setenv("AUDIT_PORTAL_DATABASE_URL", url)
    monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIT_PORTAL_SECRET_KEY", TEST_SECRET_KEY)
    return engine


def _record(engine, count: int) -> None:
    with unit_of_work(engine) as session:
        for number in range(count):
            record_event(
                session,
                actor=Actor.anonymous(),
                actor_name="admin",
                action="user.create",
                object_type="user",
                object_id=str(number),
            )


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["audit", *args])


def test_checkpoint_then_verify_a_clean_log(portal):
    _record(portal, 5)
    written = _run("checkpoint")
    assert written.exit_code == 0, written.output
    assert "checkpoint of 5 events written as evidence" in written.output
    _record(portal, 2)

    verified = _run("verify")
    assert verified.exit_code == 0, verified.output
    assert "9 events" in verified.output and "1 checkpoints agree" in verified.output


def test_verify_names_the_first_event_after_the_newest_were_deleted_and_the_head_moved_back(portal):
    _record(portal, 5)
    assert _run("checkpoint").exit_code == 0
    with portal.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id > 3"))
        connection.execute(
            text(
                "UPDATE audit_chain_head SET last_event_id = 3, last_hash = (SELECT hash FROM audit_event WHERE id = 3),"
                " last_mac = (SELECT mac FROM audit_event WHERE id = 3) WHERE id = 1"
            )
        )
    broken = _run("verify")
    assert broken.exit_code == 1
    assert "audit log chain broken at event 4" in broken.output
    assert "counted 5 events" in broken.output


def test_verify_with_another_key_says_so_and_fails(portal, monkeypatch):
    _record(portal, 3)
    monkeypatch.setenv("AUDIT_PORTAL_SECRET_KEY", "another-secret-key-that-is-long-enough-for-it")
    refused = _run("verify")
    assert refused.exit_code == 2
    assert "wrong audit key" in refused.output and "intact" not in refused.output


def test_an_unusable_key_file_is_named(portal, monkeypatch, tmp_path):
    short = tmp_path / "audit.key"
    short.write_text("too short")
    monkeypatch.setenv("AUDIT_PORTAL_AUDIT_KEY_FILE", str(short))
    refused = _run("verify")
    assert refused.exit_code == 2
    assert "AUDIT_PORTAL_AUDIT_KEY_FILE" in refused.output and "at least 32" in refused.output


def test_checkpoint_of_an_empty_log_is_refused(portal):
    refused = _run("checkpoint")
    assert refused.exit_code == 1 and "empty" in refused.output
