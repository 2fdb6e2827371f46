"""Daily coverage snapshots: taken by the scheduler (or ``audit-portal snapshots take``) and
back-filled from the evidence history.

A snapshot of day D is the coverage of the certification year ending on D, as of D: exactly
what the dashboard would have shown that day, computed by :func:`compute_coverage` with
``as_of=D`` (evidence collected after D, or superseded by then, does not count). Findings are
taken as they stand now: the coverage engine has no history of finding states, so a back-filled
day counts a requirement failing only if its finding is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from audit_portal.clock import utcnow
from audit_portal.coverage.figures import FRAMEWORKS, group_figures
from audit_portal.coverage.service import CoverageReport, coverage_as_of
from audit_portal.engagements.scope import CERTIFICATION_YEAR_DAYS
from audit_portal.errors import InvalidInput
from audit_portal.i18n import N_
from audit_portal.trends import repository
from audit_portal.trends.models import CoverageSnapshot

MAX_BACKFILL_DAYS = 3 * 366


def snapshot_rows(report: CoverageReport, day: date) -> list[CoverageSnapshot]:
    taken_at = utcnow()
    rows = [
        CoverageSnapshot(
            day=day,
            framework_key=report.framework_key,
            group_key=None,
            covered=report.covered,
            applicable=report.applicable,
            percent=report.percent,
            counts=dict(report.counts),
            taken_at=taken_at,
        )
    ]
    for group in group_figures(report, {}):
        counts: dict[str, int] = {}
        for control in report.controls:
            if control.group_key == group.group_key:
                counts[control.status] = counts.get(control.status, 0) + 1
        rows.append(
            CoverageSnapshot(
                day=day,
                framework_key=report.framework_key,
                group_key=group.group_key,
                covered=group.covered,
                applicable=group.applicable,
                percent=group.percent,
                counts=counts,
                taken_at=taken_at,
            )
        )
    return rows


def take_snapshot(session: Session, day: date | None = None) -> list[CoverageSnapshot]:
    """Store the coverage of ``day`` (default today) for every framework, overall and per group."""
    day = day or utcnow().date()
    rows: list[CoverageSnapshot] = []
    for framework_key in FRAMEWORKS:
        report = coverage_as_of(session, framework_key, as_of=day)
        rows.extend(snapshot_rows(report, day))
    repository.replace_day(session, day, rows)
    return rows


@dataclass(frozen=True)
class BackfillResult:
    first: date
    last: date
    days: int
    rows: int


def backfill(session: Session, start: date, end: date) -> BackfillResult:
    """Snapshots for every day in [start, end], computed from the evidence history."""
    if end < start:
        raise InvalidInput(
            N_("The back-fill ends (%(end)s) before it starts (%(start)s)."),
            values={"end": end.isoformat(), "start": start.isoformat()},
        )
    if end > utcnow().date():
        raise InvalidInput(N_("A back-fill cannot reach past today."))
    if (end - start).days + 1 > MAX_BACKFILL_DAYS:
        raise InvalidInput(N_("A back-fill covers at most %(most)s days."), values={"most": MAX_BACKFILL_DAYS})
    rows = 0
    day = start
    while day <= end:
        rows += len(take_snapshot(session, day))
        day += timedelta(days=1)
    return BackfillResult(first=start, last=end, days=(end - start).days + 1, rows=rows)


def month_before(day: date) -> date:
    """The same day one month earlier (the month's last day when it is shorter)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    for candidate in range(day.day, 27, -1):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


@dataclass(frozen=True)
class TrendFigure:
    series: dict[str, list[tuple[date, float]]]  # framework -> (day, percent), oldest first
    change: dict[str, float | None]  # framework -> percentage points since a month ago


def trend(session: Session, *, today: date, current: dict[str, float]) -> TrendFigure:
    """The last 12 months of overall coverage per framework, and the change in percentage points
    from the snapshot a month ago (the nearest one before it) to ``current``. The latest point is
    ``current`` itself (today's figure, computed now), never an older stored value of the day."""
    first = today - timedelta(days=CERTIFICATION_YEAR_DAYS)
    snapshots = repository.overall_between(session, FRAMEWORKS, first, today)
    series: dict[str, list[tuple[date, float]]] = {key: [] for key in FRAMEWORKS}
    for snapshot in snapshots:
        if snapshot.day == today and snapshot.framework_key in current:
            continue
        series[snapshot.framework_key].append((snapshot.day, snapshot.percent))
    for key, percent in current.items():
        if key in series:
            series[key].append((today, percent))
    reference_day = month_before(today)
    change: dict[str, float | None] = {}
    for key, points in series.items():
        before = [percent for day, percent in points if day <= reference_day]
        change[key] = round(current[key] - before[-1], 1) if before and key in current else None
    return TrendFigure(series=series, change=change)
