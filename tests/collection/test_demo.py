"""The collectors' demo step: real runs of the real collectors over shifted recordings."""
from __future__ import annotations

import io
from datetime import UTC, date, datetime

from rich.console import Console
from sqlmodel import select

from audit_portal.collection import demo
from audit_portal.collection.models import CollectorRun
from audit_portal.demo import DemoContext
from audit_portal.evidence.models import EvidenceSignoff
from audit_portal.findings.models import Finding


def test_shift_dates_moves_every_date_and_leaves_the_rest():
    text = 'Start-Date: 2026-11-28  10:40:01\n{"time":"2026-03-01T02:00:00+01:00","id":"20261128"}'
    assert demo.shift_dates(text, -1) == 'Start-Date: 2026-11-27  10:40:01\n{"time":"2026-02-28T02:00:00+01:00","id":"20261128"}'


def test_the_scenario_windows():
    scenario = demo.Scenario(date(2026, 11, 27))
    assert scenario.spring_backup_failure(date(2026, 4, 13)) and not scenario.spring_backup_failure(date(2026, 4, 20))
    assert scenario.summer_patch_backlog(date(2026, 8, 23)) and not scenario.summer_patch_backlog(date(2026, 8, 24))
    assert scenario.missed_review_quarter(date(2026, 4, 1)) and scenario.missed_review_quarter(date(2026, 6, 30))
    assert not scenario.missed_review_quarter(date(2026, 7, 1))
    assert demo.Scenario(date(2026, 2, 1)).missed_review_quarter(date(2025, 7, 15))


def test_a_short_history_with_the_spring_backup_failure(session, store, settings, make_user, catalogue, monkeypatch):
    monkeypatch.setattr(demo, "HISTORY_DAYS", 9)
    monkeypatch.setattr(demo, "DAILY_DAYS", 10)
    make_user("it", username=demo.SIGNER)
    context = DemoContext(session=session, store=store, settings=settings,
                          now=datetime(2026, 4, 20, 13, 0, tzinfo=UTC), console=Console(file=io.StringIO()))
    demo.load_collection_demo(context)
    runs = session.exec(select(CollectorRun)).all()
    assert {r.status for r in runs} == {"ok"}
    by_instance = {name: [r for r in runs if r.instance_name == name] for name, _cadence, _prepare in demo.PLAN}
    assert len(by_instance["backup-restic-borg"]) == 10 and len(by_instance["patches-linux"]) == 10
    assert all(len(by_instance[name]) in (1, 2) for name in ("firewall-edge", "firewall-hosts", "firewall-aws"))
    broken = session.exec(select(Finding).where(Finding.collector_instance == "backup-restic-borg",
                                                Finding.severity.in_(("high", "critical")))).all()
    # The Frankfurt check failed from 13 to 19 April and passed again on the 20th.
    assert broken and all(f.status == "closed" and f.closed_at.date() == date(2026, 4, 20) for f in broken)
    assert min(session.get(CollectorRun, f.first_run_id).started_at.date() for f in broken) == date(2026, 4, 13)
    reviewed_runs = [r.id for name in ("firewall-edge", "firewall-hosts", "firewall-aws", "accounts-linux")
                     for r in by_instance[name]]
    signed = session.exec(select(EvidenceSignoff)).all()
    assert len(signed) == 3 * len(reviewed_runs)
    # the collectors of part 2 ran on the last day too, from their shifted recordings
    assert all(len(by_instance[name]) >= 1 for name in ("tls-public", "accounts-linux", "password-policy", "hardening-lynis"))
