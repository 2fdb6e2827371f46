"""``audit-portal snapshots`` as an operator runs it."""

from __future__ import annotations

from sqlalchemy import func, select

from audit_portal import migrate
from audit_portal.db import make_engine
from audit_portal.trends.models import CoverageSnapshot
from tests.foundation.test_cli import run_cli


def test_backfill_then_take(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    env = {"AUDIT_PORTAL_DATA_DIR": str(tmp_path), "AUDIT_PORTAL_DATABASE_URL": url}
    backfilled = run_cli("snapshots", "backfill", "--days", "3", env=env)
    assert backfilled.returncode == 0, backfilled.stderr
    assert "back-filled 3 days" in backfilled.stdout
    taken = run_cli("snapshots", "take", env=env)
    assert taken.returncode == 0, taken.stderr
    with engine.connect() as connection:
        days = connection.scalar(select(func.count(func.distinct(CoverageSnapshot.day))))
    engine.dispose()
    assert days == 3  # "take" replaced today's back-filled snapshot
