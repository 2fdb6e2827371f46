"""Snapshots of today and back-filled days, against coverage computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit_portal.dashboard import service as dashboard
from audit_portal.errors import InvalidInput
from audit_portal.trends import repository, service
from tests.dashboard.conftest import covered_by_hand


def overall(rows, framework):
    return next(r for r in rows if r.framework_key == framework and r.group_key is None)


def test_todays_snapshot_holds_the_dashboard_figures(session, seeded):
    rows = service.take_snapshot(session, seeded.today)
    board = dashboard.build_dashboard(session)
    for framework, figure in board.frameworks.items():
        row = overall(rows, framework)
        assert (row.covered, row.applicable, row.percent) == (figure.covered, figure.applicable, figure.percent)
        groups = {r.group_key: (r.covered, r.applicable) for r in rows if r.framework_key == framework and r.group_key}
        assert groups == {g.group_key: (g.covered, g.applicable) for g in figure.groups}
    assert overall(rows, "annex2").counts["failing"] == 1


def test_taking_a_day_again_replaces_it(session, seeded):
    first = len(service.take_snapshot(session, seeded.today))
    service.take_snapshot(session, seeded.today)
    assert repository.count(session) == first
    assert len(repository.of_day(session, seeded.today)) == first


@pytest.mark.parametrize("days_ago", [15, 25, 120])
def test_backfilled_days_match_the_hand_count_as_of_that_day(session, seeded, days_ago):
    day = seeded.today - timedelta(days=days_ago)
    service.backfill(session, day, day)
    rows = repository.of_day(session, day)
    for framework in ("iso27001-2022", "annex2"):
        expected = covered_by_hand(session, seeded, framework, start=day - timedelta(days=364), as_of=day).values()
        row = overall(rows, framework)
        assert row.covered == sum(1 for *_, covered in expected if covered)
        assert row.applicable == sum(1 for _, applicable, _ in expected if applicable)


def test_history_decides_a_past_days_status(session, seeded):
    # OPS-2/patches was collected 20 days ago: fresh 15 days ago, stale 5 days ago.
    service.backfill(session, seeded.today - timedelta(days=15), seeded.today - timedelta(days=5))
    fresh = overall(repository.of_day(session, seeded.today - timedelta(days=15)), "annex2")
    stale = overall(repository.of_day(session, seeded.today - timedelta(days=5)), "annex2")
    assert stale.counts.get("stale", 0) == fresh.counts.get("stale", 0) + 1


def test_backfill_covers_every_day_once(session, seeded):
    result = service.backfill(session, seeded.today - timedelta(days=9), seeded.today)
    assert result.days == 10
    assert repository.days_with_snapshots(session, seeded.today - timedelta(days=30), seeded.today) == {
        seeded.today - timedelta(days=n) for n in range(10)
    }


@pytest.mark.parametrize(
    "start_offset, end_offset, message",
    [(1, 3, "ends"), (-1, -1, "past today"), (5000, 0, "at most")],
)
def test_bad_backfill_ranges_are_refused(session, today, start_offset, end_offset, message):
    with pytest.raises(InvalidInput, match=message):
        service.backfill(session, today - timedelta(days=start_offset), today - timedelta(days=end_offset))


def test_trend_change_is_against_the_snapshot_a_month_ago(session, seeded):
    reference = service.month_before(seeded.today)
    service.backfill(session, reference - timedelta(days=2), reference)
    board = dashboard.build_dashboard(session)
    for framework in ("iso27001-2022", "annex2"):
        then = overall(repository.of_day(session, reference), framework).percent
        assert board.trend.change[framework] == round(board.frameworks[framework].percent - then, 1)
        # the stored days, then today computed now (the newest point always equals the headline)
        assert [day for day, _ in board.trend.series[framework]] == [
            reference - timedelta(days=n) for n in (2, 1, 0)
        ] + [seeded.today]
        assert board.trend.series[framework][-1][1] == board.frameworks[framework].percent


def test_no_snapshot_a_month_ago_means_no_change(session, seeded):
    service.take_snapshot(session, seeded.today)
    assert dashboard.build_dashboard(session).trend.change == {"iso27001-2022": None, "annex2": None}


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2026-03-31", "2026-02-28"),
        ("2026-01-15", "2025-12-15"),
        ("2024-03-30", "2024-02-29"),
        ("2026-07-31", "2026-06-30"),
    ],
)
def test_month_before(day, expected):
    from datetime import date

    assert service.month_before(date.fromisoformat(day)) == date.fromisoformat(expected)
