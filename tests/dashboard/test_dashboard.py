"""The dashboard's figures against coverage computed by hand, and every figure's link."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event

from audit_portal.dashboard import service
from tests.dashboard.conftest import covered_by_hand

FIGURE = re.compile(r'<a data-figure="([^"]+)" href="([^"]+)">([^<]+)</a>')


def by_hand(session, seeded, framework):
    start = seeded.today - timedelta(days=364)
    return covered_by_hand(session, seeded, framework, start=start, as_of=seeded.today)


class TestFigures:
    def test_overall_coverage_matches_the_hand_count(self, session, seeded):
        board = service.build_dashboard(session)
        for framework in ("iso27001-2022", "annex2"):
            expected = by_hand(session, seeded, framework).values()
            figure = board.frameworks[framework]
            assert figure.applicable == sum(1 for _, applicable, _ in expected if applicable)
            assert figure.covered == sum(1 for _, _, covered in expected if covered)

    def test_the_seeded_annex2_numbers(self, session, seeded):
        figure = service.build_dashboard(session).frameworks["annex2"]
        # POL-1, HR-2, CMP-1, ORG-1, PHY-2 fresh; HR-3, CRY-2 still fresh though expiring, AST-2
        # fresh one day past the window; SUP-2 fresh (its certificate lapses later). No other.
        assert (figure.covered, figure.applicable) == (9, 34)
        assert figure.percent == round(100 * 9 / 34, 1)
        assert figure.counts["failing"] == 1  # PHY-3
        assert figure.counts["stale"] == 2  # OPS-2, OPS-4

    def test_per_group_matches_the_hand_count(self, session, seeded):
        board = service.build_dashboard(session)
        for framework in ("iso27001-2022", "annex2"):
            applicable, covered = Counter(), Counter()
            for group, is_applicable, is_covered in by_hand(session, seeded, framework).values():
                applicable[group] += is_applicable
                covered[group] += is_covered
            figures = {g.group_key: (g.covered, g.applicable) for g in board.frameworks[framework].groups}
            assert figures == {group: (covered[group], applicable[group]) for group in figures}
            assert set(figures) >= set(applicable)
        policy = next(g for g in board.frameworks["annex2"].groups if g.group_key == "policy")
        assert (policy.covered, policy.applicable) == (1, 2)

    def test_slipped_controls_newest_slip_first(self, session, seeded):
        board = service.build_dashboard(session)
        annex = [(s.ref, s.status, s.since) for s in board.slipped if s.framework_key == "annex2"]
        today = seeded.today
        assert annex == [
            ("PHY-3", "failing", today),
            ("OPS-2", "stale", today - timedelta(days=20 - 9 - 1)),
            ("OPS-4", "stale", today - timedelta(days=200 - 104 - 1)),
        ]

    def test_expiring_within_thirty_days(self, session, seeded):
        board = service.build_dashboard(session)
        requirements = {item.requirement_key for item in board.expiring if item.kind == "requirement"}
        assert requirements == seeded.expiring_keys
        certificates = [item.evidence_id for item in board.expiring if item.kind == "certificate"]
        assert certificates == [seeded.certificate_id]
        days = {item.label: (item.expires_on - seeded.today).days for item in board.expiring}
        assert days["HR-3/awareness"] == 5 and days["CRY-2/disk-encryption"] == 30

    def test_findings_and_requests(self, session, seeded):
        board = service.build_dashboard(session)
        assert board.open_findings == {"critical": 0, "high": 1, "medium": 1, "low": 1, "info": 0}
        assert board.overdue_actions == 1
        # the answered request waits for the auditor, not for an answer: not counted as open
        assert (board.open_requests, board.overdue_requests, board.answered_requests) == (1, 1, 1)

    def test_collector_health(self, session, seeded):
        health = service.build_dashboard(session).collectors
        assert [r.status for r in health.failed_runs] == ["timed_out", "failed", "failed"]
        assert sorted(c.name for c in health.late) == ["backup-dc", "firewall-never"]
        statuses = {c.name: c.last_status for c in health.collectors}
        assert statuses == {
            "backup-dc": "timed_out",
            "patches-linux": "ok",
            "firewall-never": None,
            "firewall-off": None,
        }

    def test_an_engagement_period_narrows_coverage(self, session, seeded):
        board = service.build_dashboard(session, engagement_id=seeded.engagement_id)
        start = seeded.today - timedelta(days=200)
        expected = covered_by_hand(session, seeded, "annex2", start=start, as_of=seeded.today)
        assert board.frameworks["annex2"].covered == sum(1 for *_, covered in expected.values() if covered)
        assert board.period.start == start

    def test_coverage_is_computed_once_per_framework(self, session, seeded, monkeypatch):
        calls = []
        original = service.coverage_as_of
        monkeypatch.setattr(service, "coverage_as_of", lambda *a, **k: calls.append(a[1]) or original(*a, **k))
        service.build_dashboard(session)
        assert sorted(calls) == ["annex2", "iso27001-2022"]


class TestPage:
    def test_every_figure_links_to_a_list_of_the_same_count(self, session, seeded, login_as):
        client = login_as("management")
        page = client.get("/")
        assert page.status_code == 200
        figures = FIGURE.findall(page.text)
        names = {name for name, _, _ in figures}
        assert {
            "coverage-iso27001-2022-covered",
            "coverage-annex2-applicable",
            "controls-failing",
            "controls-stale",
            "expiring",
            "collectors-failed-runs",
            "collectors-late",
            "findings-high",
            "findings-overdue",
            "requests-open",
            "requests-overdue",
            "group-annex2-policy-covered",
            "trend-change-annex2",
        } <= names
        for name, href, shown in figures:
            listing = client.get(href.replace("&amp;", "&"))
            assert listing.status_code == 200, (name, href)
            if name.endswith("-percent") or name.startswith("trend-change"):
                continue
            count = re.search(r'data-count="(\d+)"', listing.text)
            assert count and count.group(1) == shown.strip(), (name, href, shown)

    def test_figures_keep_the_engagement_period(self, session, seeded, login_as):
        client = login_as("admin")
        page = client.get(f"/?engagement={seeded.engagement_id}")
        assert page.status_code == 200
        hrefs = [href for name, href, _ in FIGURE.findall(page.text) if name.startswith("coverage-")]
        assert hrefs and all(f"engagement={seeded.engagement_id}" in href for href in hrefs)

    def test_unknown_engagement_is_404(self, login_as):
        assert login_as("management").get("/?engagement=999999").status_code == 404

    def test_bad_filters_are_refused(self, session, seeded, login_as):
        client = login_as("management")
        assert client.get("/dashboard/controls?framework=nope").status_code == 422
        assert client.get("/dashboard/controls?status=great").status_code == 422
        assert client.get("/dashboard/collectors?show=everything").status_code == 422

    @pytest.mark.parametrize("role", ["admin", "it", "management"])
    def test_every_role_lands_on_the_dashboard(self, role, login_as):
        page = login_as(role).get("/")
        assert page.status_code == 200
        assert "Compliance overview" in page.text

    def test_an_auditor_lands_on_their_engagement_or_is_told_they_have_none(self, session, seeded, login_as, make_user):
        unassigned = login_as("auditor").get("/")
        assert unassigned.status_code == 200 and "not assigned to an engagement" in unassigned.text
        page = login_as(_assigned_auditor(session, make_user, seeded.engagement_id)).get("/")
        assert page.status_code == 200
        assert "Compliance overview" in page.text and "Surveillance audit" in page.text

    def test_auditor_views_are_audited(self, session, seeded, login_as, make_user):
        from sqlalchemy import select

        from audit_portal.audit.models import AuditEvent

        assert (
            login_as(_assigned_auditor(session, make_user, seeded.engagement_id)).get("/dashboard/expiring").status_code
            == 200
        )
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "dashboard")).all()
        assert actions == ["dashboard.view"]

    def test_the_requests_list_links_to_the_workspace_only_for_roles_that_may_open_it(self, session, seeded, login_as):
        # management may not read the engagement workspace (requests:read), yet sees the list
        management = login_as("management").get("/dashboard/requests")
        assert management.status_code == 200 and "Show the restore test" in management.text
        assert "/engagements/" not in management.text
        assert f"/engagements/{seeded.engagement_id}/requests" in login_as("it").get("/dashboard/requests").text

    def test_charts_are_accessible_svg(self, session, seeded, login_as):
        text = login_as("management").get("/").text
        assert text.count('<svg class="chart') == 3
        assert 'role="img"' in text and "<title id=" in text and "<desc id=" in text

    def test_charts_draw_the_target_and_come_with_their_tables(self, session, seeded, login_as, settings):
        text = login_as("management").get("/").text
        target = f"target {settings.coverage_target_percent:g}%"
        assert text.count('<line class="target"') == 3 and text.count(f">{target}</text>") == 3
        assert 'data-figure="coverage-target"' in text
        trend_table = text.split('<details class="chart-data">')[1].split("</details>")[0]
        assert "<summary>The trend as a table</summary>" in trend_table
        assert f'<th scope="row">{seeded.today:%Y-%m-%d}</th>' in trend_table  # today's figure is the newest row

    def test_charts_speak_the_readers_language(self, session, seeded, login_as, settings):
        text = login_as("management").get("/", headers={"Accept-Language": "nl"}).text
        titles = re.findall(r'<title id="chart-\d+-title">(.*?)</title>', text)
        assert titles[0] == "Dekking over de afgelopen 12 maanden"
        assert titles[1:] == [
            "Dekking per groep, ISO/IEC 27001:2022 Annex A",
            "Dekking per groep, Maatregelen van Bijlage 2",
        ]
        descriptions = re.findall(r'<desc id="chart-\d+-desc">(.*?)</desc>', text)
        assert (
            re.search(r"Maatregelen van Bijlage 2: 1 dagwaarde, van \d+,\d% op \d\d-\d\d-\d{4}", descriptions[0])
            and f"doel {settings.coverage_target_percent:g}%" in descriptions[0]
        )
        assert text.count(f">doel {settings.coverage_target_percent:g}%</text>") == 3 and ">target " not in text


def _assigned_auditor(session, make_user, engagement_id: int):  # type: ignore[no-untyped-def]
    from audit_portal.engagements.models import EngagementAuditor

    auditor = make_user("auditor")
    session.add(EngagementAuditor(engagement_id=engagement_id, user_id=auditor.id))
    session.commit()
    return auditor


def test_statement_count_does_not_grow_with_data(session, seeded, engine):
    def count_statements() -> int:
        statements = []
        listener = lambda *args: statements.append(1)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            service.build_dashboard(session)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    before = count_statements()
    from tests.dashboard.conftest import Seeder

    seeder = Seeder(session)
    for offset in range(40):
        seeder.add("OPS-2/patches", seeded.today - timedelta(days=offset))
    assert count_statements() == before
