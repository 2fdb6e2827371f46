"""The management jobs as a scheduler tick runs them, against a database of their own (they
commit through unit_of_work like the real scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from audit_portal import migrate
from audit_portal.audit import keys
from audit_portal.catalogue.service import load_catalogue
from audit_portal.db import make_engine, unit_of_work
from audit_portal.principals import Actor
from audit_portal.reports.models import ComplianceReport
from audit_portal.trends import jobs
from audit_portal.trends.models import CoverageSnapshot
from evidence_store import MemoryStore
from tests.conftest import BACKENDS, TEST_SECRET_KEY
from tests.support import fresh_database


@pytest.fixture(params=BACKENDS)
def own_engine(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        keys.bind(engine, keys.derive_from_secret(TEST_SECRET_KEY))  # the key the settings fixture derives
        migrate.upgrade(engine)
        with unit_of_work(engine) as session:
            load_catalogue(session)
        yield engine
        engine.dispose()


def test_a_tick_snapshots_and_reports_once(own_engine, settings):
    store = MemoryStore()
    # Mid-month and in the past, so "the next day" never starts a new month.
    now = (datetime.now(UTC) - timedelta(days=40)).replace(day=10, hour=9, minute=0)
    sqlite = own_engine.dialect.name == "sqlite"
    first = jobs.run_due_jobs(own_engine, store, settings, now)
    # no SMTP host: no digest; the jobs' events are the first the audit checkpoint signs
    assert first == [
        "coverage-snapshot",
        "monthly-report",
        "retention",
        "integrity-scrub",
        *(["database-optimize"] if sqlite else []),
        "audit-checkpoint",
    ]
    assert jobs.run_due_jobs(own_engine, store, settings, now + timedelta(minutes=1)) == []
    with own_engine.connect() as connection:
        days = set(connection.scalars(select(CoverageSnapshot.day).distinct()))
        reports = connection.scalar(select(func.count()).select_from(ComplianceReport))
    assert days == {now.date(), now.date() - timedelta(days=1)}
    assert reports == 1
    # The next day: yesterday (then today) is taken again now that it is complete.
    next_day = now + timedelta(days=1)
    new_week = next_day.isocalendar()[1] != now.isocalendar()[1]
    assert jobs.run_due_jobs(own_engine, store, settings, next_day) == [
        "coverage-snapshot",
        "retention",
        *(["integrity-scrub"] if new_week else []),
        *(["database-optimize"] if sqlite else []),
        "audit-checkpoint",
    ]


def test_the_digest_goes_out_once_a_week_on_monday_morning(own_engine, settings):
    from aiosmtpd.controller import Controller

    from audit_portal.auth.models import UserAccount
    from audit_portal.findings.models import Finding
    from audit_portal.notifications.models import DigestPreference
    from tests.notifications.test_digest import Inbox, free_port

    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
        monday = (datetime.now(UTC) - timedelta(days=40)).replace(hour=6, minute=30)
        monday -= timedelta(days=monday.weekday())
        with unit_of_work(own_engine) as session:
            user = UserAccount(
                username="it.ops", role="it", password_hash="-", password_changed_at=monday, created_at=monday
            )
            session.add(user)
            session.flush()
            session.add(DigestPreference(user_id=user.id, email="it@example.test", opted_out=False, updated_at=monday))
            session.add(
                Finding(
                    source="auditor", title="Restore test missing", severity="high", status="open", created_at=monday
                )
            )
        store = MemoryStore()
        assert "weekly-digest" not in jobs.run_due_jobs(own_engine, store, smtp, monday)  # before 07:00
        assert "weekly-digest" in jobs.run_due_jobs(own_engine, store, smtp, monday + timedelta(hours=1))
        assert "weekly-digest" not in jobs.run_due_jobs(own_engine, store, smtp, monday + timedelta(hours=2))
        assert "weekly-digest" not in jobs.run_due_jobs(own_engine, store, smtp, monday + timedelta(days=1, hours=1))
        assert [message["To"] for message in handler.messages] == ["it@example.test"]
    finally:
        controller.stop()


def test_the_audit_checkpoint_is_written_once_a_day_and_verifies(own_engine, settings):
    from audit_portal.audit.checkpoints import CHECKPOINT_SOURCE, verify_log
    from audit_portal.audit.service import record_event
    from audit_portal.evidence import service as evidence_service
    from audit_portal.evidence.models import Evidence

    store = MemoryStore()
    now = datetime.now(UTC).replace(hour=9, minute=0)
    with unit_of_work(own_engine) as session:
        record_event(session, actor=Actor.anonymous(), actor_name="admin", action="user.create")
    assert "audit-checkpoint" in jobs.run_due_jobs(own_engine, store, settings, now)
    assert "audit-checkpoint" not in jobs.run_due_jobs(own_engine, store, settings, now + timedelta(hours=3))
    with unit_of_work(own_engine) as session:
        checkpoints = session.scalars(select(Evidence).where(Evidence.collector_instance == CHECKPOINT_SOURCE)).all()
        result = verify_log(session, store, settings)
        linked = {
            f"{c.framework_key}:{c.ref}"
            for c in evidence_service.control_links(session, [checkpoints[0].id])[checkpoints[0].id]
        }
    assert len(checkpoints) == 1
    assert linked == {"iso27001-2022:8.15", "iso27001-2013:A.12.4.2"}  # protection of log information
    assert result.ok and len(result.checkpoints) == 1


def test_a_shutdown_ends_the_pass_before_the_next_job(own_engine, settings):
    import threading

    stopping = threading.Event()
    stopping.set()
    assert jobs.run_due_jobs(own_engine, MemoryStore(), settings, stopping=stopping) == []
