"""Events written before the MAC existed (revision 0063) still verify after the migration, and one
changed before it is still caught."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from audit_portal import migrate
from audit_portal.audit import keys
from audit_portal.audit.models import GENESIS_HASH, AuditEvent
from audit_portal.audit.service import canonical_json, event_hash, record_event, verify_chain
from audit_portal.db import make_engine, unit_of_work
from audit_portal.principals import Actor
from tests.conftest import TEST_SECRET_KEY
from tests.support import fresh_database

BEFORE_MAC = "0050_trends_reports"


@pytest.fixture
def legacy_engine(database_url, tmp_path):
    """A database at the revision before the MAC, holding four events chained as the portal
    chained them then (plain SHA-256 only)."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        keys.bind(engine, keys.derive_from_secret(TEST_SECRET_KEY))
        migrate.upgrade(engine, BEFORE_MAC)
        previous = GENESIS_HASH
        with engine.begin() as connection:
            for number in range(1, 5):
                event = AuditEvent(
                    id=number,
                    at=datetime(2026, 3, number, 9, 0, tzinfo=UTC),
                    actor="admin",
                    actor_role="admin",
                    address="192.0.2.7",
                    action="user.create",
                    object_type="user",
                    object_id=str(number),
                    outcome="success",
                    detail=canonical_json({"n": number}),
                    prev_hash=previous,
                    hash="",
                )
                event.hash = event_hash(event)
                connection.execute(
                    text(
                        "INSERT INTO audit_event (id, at, actor, actor_role, address, action, object_type, object_id,"
                        " outcome, detail, prev_hash, hash) VALUES (:id, :at, :actor, :actor_role, :address, :action,"
                        " :object_type, :object_id, :outcome, :detail, :prev_hash, :hash)"
                    ),
                    event.model_dump(exclude={"mac"}),
                )
                previous = event.hash
            connection.execute(
                text("UPDATE audit_chain_head SET last_event_id = 4, last_hash = :hash WHERE id = 1"),
                {"hash": previous},
            )
        try:
            yield engine
        finally:
            engine.dispose()


def test_events_from_before_the_mac_verify_after_the_migration(legacy_engine):
    migrate.upgrade(legacy_engine)
    with unit_of_work(legacy_engine) as session:
        macs = session.execute(text("SELECT mac FROM audit_event ORDER BY id")).scalars().all()
        assert all(len(mac) == 64 for mac in macs)
        assert verify_chain(session).ok and verify_chain(session).checked == 4
        record_event(session, actor=Actor.anonymous(), actor_name="admin", action="user.revoke")
    with unit_of_work(legacy_engine) as session:
        report = verify_chain(session)
    assert report.ok and report.checked == 5


def test_an_event_changed_before_the_migration_is_still_caught(legacy_engine):
    with legacy_engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'intruder' WHERE id = 2"))
    migrate.upgrade(legacy_engine)
    with unit_of_work(legacy_engine) as session:
        report = verify_chain(session)
    assert report.problem is not None and report.problem.event_id == 2
    assert "content does not match" in report.problem.reason
