from __future__ import annotations

import threading

from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from audit_portal.audit.models import AuditEvent
from audit_portal.audit.service import record_event, verify_chain
from audit_portal.db import unit_of_work
from audit_portal.principals import Actor, Principal
from tests.conftest import TEST_SECRET_KEY

ADMIN = Principal(role="admin", username="root", user_id=1)


def _record(session, count: int) -> list[AuditEvent]:
    return [
        record_event(
            session,
            actor=Actor(ADMIN),
            action="test.event",
            object_type="thing",
            object_id=str(number),
            detail={"n": number, "naam": "Bijlage één"},
        )
        for number in range(count)
    ]


def test_events_form_a_chain_that_verifies(session):
    events = _record(session, 4)
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = verify_chain(session)
    assert report.ok and report.checked == 4


def test_editing_one_event_breaks_the_chain_at_that_event(session):
    events = _record(session, 4)
    session.execute(text("UPDATE audit_event SET outcome = 'failure' WHERE id = :id"), {"id": events[2].id})
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.problem.event_id == events[2].id
    assert "changed" in str(report.problem)


def test_rehashing_an_edited_event_is_caught_by_its_mac(session):
    from audit_portal.audit.service import event_hash

    events = _record(session, 3)
    forged = session.get(AuditEvent, events[1].id)
    forged.actor = "someone.else"
    forged.hash = event_hash(forged)
    session.flush()
    report = verify_chain(session)
    assert report.problem.event_id == events[1].id
    assert "MAC" in str(report.problem)


def test_deleting_an_event_is_named(session):
    deleted = _record(session, 4)[1].id
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": deleted})
    session.expire_all()
    assert verify_chain(session).problem.event_id == deleted


def test_deleting_the_newest_event_is_noticed(session):
    newest = _record(session, 3)[-1].id
    session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": newest})
    session.expire_all()
    problem = verify_chain(session).problem
    assert problem is not None and problem.event_id == newest


def test_audit_verify_exits_non_zero_naming_the_tampered_event(committed_database, tmp_path, monkeypatch):
    from audit_portal.cli import app as cli

    url, engine = committed_database
    with unit_of_work(engine) as session:
        _record(session, 5)
    monkeypatch.setenv("AUDIT_PORTAL_DATABASE_URL", url)
    monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIT_PORTAL_SECRET_KEY", TEST_SECRET_KEY)
    runner = CliRunner()

    intact = runner.invoke(cli, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "5 events" in intact.output

    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET detail = :detail WHERE id = 3"), {"detail": '{"n":99}'})
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "event 3" in broken.output


def test_concurrent_writers_do_not_fork_the_chain(committed_database):
    _, engine = committed_database
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with unit_of_work(engine) as session:
                    _record(session, 1)
        except BaseException as error:  # noqa: BLE001 - reported to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with unit_of_work(engine) as session:
        report = verify_chain(session)
        ids = [e.id for e in session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
    assert report.ok and report.checked == 40
    assert ids == list(range(1, 41))
