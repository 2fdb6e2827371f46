"""``audit-portal report monthly`` and ``audit-portal digest send`` as cron runs them."""

from __future__ import annotations

from sqlalchemy import select

from audit_portal import migrate
from audit_portal.auth.models import UserAccount
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.db import make_engine, unit_of_work
from audit_portal.notifications.models import DigestPreference
from audit_portal.reports.models import ComplianceReport
from tests.foundation.test_cli import run_cli


def portal(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        load_catalogue(session)
    env = {
        "AUDIT_PORTAL_DATA_DIR": str(tmp_path),
        "AUDIT_PORTAL_DATABASE_URL": url,
        "AUDIT_PORTAL_STORE_URL": (tmp_path / "evidence").as_uri(),
    }
    return engine, env


def test_report_monthly_once_with_if_missing(tmp_path):
    engine, env = portal(tmp_path)
    first = run_cli("report", "monthly", "--if-missing", env=env)
    assert first.returncode == 0, first.stderr
    assert "PDF is evidence" in first.stdout
    again = run_cli("report", "monthly", "--if-missing", env=env)
    assert again.returncode == 0 and "exists already" in again.stdout
    bad = run_cli("report", "monthly", "--month", "someday", env=env)
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    with unit_of_work(engine) as session:
        assert len(session.scalars(select(ComplianceReport)).all()) == 1
    engine.dispose()


def test_digest_dry_run_prints_and_a_missing_host_is_an_error(tmp_path):
    engine, env = portal(tmp_path)
    with unit_of_work(engine) as session:
        now = utcnow()
        user = UserAccount(username="it.ops", role="it", password_hash="-", password_changed_at=now, created_at=now)
        session.add(user)
        session.flush()
        session.add(DigestPreference(user_id=user.id, email="it@example.test", opted_out=False, updated_at=now))
    # Without evidence nothing expires: a new finding is what gives IT a digest.
    from audit_portal.findings.models import Finding

    with unit_of_work(engine) as session:
        session.add(
            Finding(source="auditor", title="Restore test missing", severity="high", status="open", created_at=utcnow())
        )
    dry = run_cli("digest", "send", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "to it@example.test" in dry.stdout and "Restore test missing" in dry.stdout and "would send 1" in dry.stdout
    real = run_cli("digest", "send", env=env)
    assert real.returncode == 1 and "SMTP_HOST" in real.stderr
    engine.dispose()
