"""The collectors' demo step: real runs of the real collectors over shifted recordings."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

from rich.console import Console
from sqlmodel import select

from audit_portal.collection import demo, service
from audit_portal.collection.models import CollectorRun
from audit_portal.demo import DemoContext
from audit_portal.evidence.models import Evidence, EvidenceSignoff
from audit_portal.findings.models import Finding


def test_shift_dates_moves_every_date_and_leaves_the_rest():
    text = 'Start-Date: 2026-11-28  10:40:01\n{"time":"2026-03-01T02:00:00+01:00","id":"20261128"}'
    assert (
        demo.shift_dates(text, -1)
        == 'Start-Date: 2026-11-27  10:40:01\n{"time":"2026-02-28T02:00:00+01:00","id":"20261128"}'
    )


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
    context = DemoContext(
        session=session,
        store=store,
        settings=settings,
        now=datetime(2026, 4, 20, 13, 0, tzinfo=UTC),
        console=Console(file=io.StringIO()),
    )
    demo.load_collection_demo(context)
    runs = session.exec(select(CollectorRun)).all()
    assert {r.status for r in runs} == {"ok"}
    by_instance = {name: [r for r in runs if r.instance_name == name] for name, _cadence, _prepare in demo.PLAN}
    assert len(by_instance["backup-restic-borg"]) == 10 and len(by_instance["patches-linux"]) == 10
    assert all(len(by_instance[name]) in (1, 2) for name in ("firewall-edge", "firewall-hosts", "firewall-aws"))
    broken = session.exec(
        select(Finding).where(
            Finding.collector_instance == "backup-restic-borg", Finding.severity.in_(("high", "critical"))
        )
    ).all()
    # The Frankfurt check failed from 13 to 19 April and passed again on the 20th.
    assert broken and all(f.status == "closed" and f.closed_at.date() == date(2026, 4, 20) for f in broken)
    assert min(session.get(CollectorRun, f.first_run_id).started_at.date() for f in broken) == date(2026, 4, 13)
    reviewed_runs = [
        r.id
        for name in ("firewall-edge", "firewall-hosts", "firewall-aws", "accounts-linux")
        for r in by_instance[name]
    ]
    signed = session.exec(
        select(EvidenceSignoff)
        .join(Evidence, Evidence.id == EvidenceSignoff.evidence_id)
        .where(Evidence.collector_run_id.in_(reviewed_runs))
    ).all()
    assert len(signed) == 3 * len(reviewed_runs)
    # the collectors of part 2 ran on the last day too, from their shifted recordings
    assert all(
        len(by_instance[name]) >= 1 for name in ("tls-public", "accounts-linux", "password-policy", "hardening-lynis")
    )


def test_part3_instances_have_a_history(session, store, settings, make_user, catalogue, monkeypatch):
    """Disk encryption, anti-malware, availability and advisories: weekly real runs, decisions
    on the advisories found, every review but the latest signed off."""
    monkeypatch.setattr(demo, "HISTORY_DAYS", 21)
    monkeypatch.setattr(demo, "DAILY_DAYS", 0)
    monkeypatch.setattr(demo, "PLAN", tuple(entry for entry in demo.PLAN if entry[0] in PART3))
    make_user("it", username=demo.SIGNER)
    context = DemoContext(
        session=session,
        store=store,
        settings=settings,
        now=datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
        console=Console(file=io.StringIO()),
    )
    demo.load_collection_demo(context)
    runs = session.exec(select(CollectorRun)).all()
    assert {(r.instance_name, r.status) for r in runs} == {(name, "ok") for name in PART3}
    assert all(len([r for r in runs if r.instance_name == name]) == 4 for name in PART3)
    open_keys = {f.key for f in session.exec(select(Finding).where(Finding.status == "open")).all()}
    # DT-0021 stopped checking in two months ago; everything else is in order this week
    assert open_keys == {"no-encryption-report:DT-0021"}
    decisions = json.loads(service.get_instance(session, "advisories-ncsc").config_json)["decisions"]
    assert {d["advisory"]: d["status"] for d in decisions} == {
        "NCSC-2026-0398": "mitigated",
        "NCSC-2026-0412": "mitigated",
    }
    advisory_runs = [r.id for r in runs if r.instance_name == "advisories-ncsc"]
    signed_runs = {
        e.collector_run_id
        for e in session.exec(select(Evidence).join(EvidenceSignoff, Evidence.id == EvidenceSignoff.evidence_id)).all()
    }
    assert signed_runs == set(sorted(advisory_runs)[:-1])  # the latest review awaits its sign-off


PART3 = ("disk-encryption-fleet", "anti-malware-servers", "availability-prometheus", "advisories-ncsc")


def test_firewall_reviews_decide_every_rule_and_one_is_signed_off_late(
    session, store, settings, make_user, catalogue, monkeypatch
):
    from audit_portal.collection import views
    from audit_portal.collection.models import RuleDecision

    monkeypatch.setattr(demo, "HISTORY_DAYS", 70)
    monkeypatch.setattr(demo, "DAILY_DAYS", 0)
    monkeypatch.setattr(demo, "PLAN", tuple(entry for entry in demo.PLAN if entry[0] == "firewall-edge"))
    make_user("it", username=demo.SIGNER)
    context = DemoContext(
        session=session,
        store=store,
        settings=settings,
        now=datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
        console=Console(file=io.StringIO()),
    )
    demo.load_collection_demo(context)
    detail = views.instance_detail(session, "firewall-edge")
    assert len(detail.runs) == 11 and set(detail.signoffs) == {run.id for run in detail.runs}
    late = [run_id for run_id, state in detail.signoffs.items() if state.late]
    assert len(late) == 1 and detail.signoffs[late[0]].days_after_run == 19
    decisions = session.exec(select(RuleDecision)).all()
    assert {d.run_id for d in decisions} == {run.id for run in detail.runs}
    assert {d.decision for d in decisions} >= {"keep", "change"}
    assert all(d.reason for d in decisions if d.decision != "keep")
