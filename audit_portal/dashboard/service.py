"""Every figure of the dashboard, computed once per request from a fixed number of queries.

Coverage comes from :func:`compute_coverage`, called once per framework (2022 and annex2) for
the dashboard's period: the current certification year (the last 365 days up to today) or the
chosen engagement's period. Every other figure is one query. The lists behind the figures
(``/dashboard/...``) are computed by the same functions, so a figure and its list always agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from croniter import croniter
from markupsafe import Markup
from sqlmodel import Session

from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorRun
from audit_portal.coverage.figures import (
    ANNEX2,
    FRAMEWORKS,
    GroupFigure,
    group_figures,
)
from audit_portal.coverage.service import (
    AWAITING_SIGNOFF,
    COVERED,
    FAILING,
    FRAMEWORK_2022,
    MET,
    NOT_APPLICABLE,
    STALE,
    ControlCoverage,
    CoverageReport,
    Reason,
    RequirementCoverage,
    coverage_as_of,
)
from audit_portal.dashboard import charts, repository
from audit_portal.engagements.scope import (
    CERTIFICATION_YEAR_DAYS,
    EVERYTHING,
    OutOfScope,
    Scope,
    certification_year,
    within,
)
from audit_portal.errors import InvalidInput
from audit_portal.findings.models import SEVERITIES
from audit_portal.i18n import N_, Wording
from audit_portal.requests.models import STATE_ANSWERED, STATE_OPEN
from audit_portal.trends import repository as snapshots
from audit_portal.trends import service as trends
from audit_portal.trends.service import TrendFigure

FRAMEWORK_LABELS = {FRAMEWORK_2022: N_("ISO/IEC 27001:2022 Annex A"), ANNEX2: N_("Annex 2 measures")}
EXPIRY_WINDOW_DAYS = 30
COLLECTOR_FAILURE_DAYS = 7
SLIPPED_SHOWN = 10
# A run may start a little after its cron time (scheduler tick, a long run before it); only a
# run missing for longer than this counts as "not run on schedule".
SCHEDULE_TOLERANCE = timedelta(hours=1)
# Control list filters: a status of the coverage rules, or "applicable" (all but not_applicable).
APPLICABLE = "applicable"


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    as_of: date
    engagement_id: int | None = None
    engagement_name: str | None = None

    @property
    def label(self) -> str:
        base = f"{self.start.isoformat()} – {self.as_of.isoformat()}"
        return f"{self.engagement_name} ({base})" if self.engagement_name else f"certification year {base}"

    def query(self, lead: str = "&") -> str:
        """The query-string part that keeps the same period on a list page: ``lead`` is "&"
        after other parameters, "?" when it is the only one."""
        return f"{lead}engagement={self.engagement_id}" if self.engagement_id else ""


def period_for(
    session: Session, *, engagement_id: int | None = None, today: date | None = None, scope: Scope = EVERYTHING
) -> Period:
    """The certification year, or the chosen engagement's period. A reader with a restricted
    scope (an auditor) always looks at one of their engagements: the newest when none is chosen."""
    today = today or utcnow().date()
    if engagement_id is None and not scope.unrestricted:
        default = scope.default_engagement()
        if default is None:
            raise OutOfScope(N_("You are not assigned to an engagement, so there is nothing to show."))
        engagement_id = default.id
    if engagement_id is None:
        start, end = certification_year(today)
        return Period(start=start, end=end, as_of=today)
    found = repository.engagement(session, engagement_id)
    if found is None or not scope.sees_engagement(found.id):
        raise OutOfScope(N_("Engagement %(id)s does not exist."), values={"id": engagement_id})
    return Period(
        start=found.period_start,
        end=found.period_end,
        as_of=min(today, found.period_end),
        engagement_id=found.id,
        engagement_name=found.name,
    )


def coverage_for(session: Session, period: Period, framework_key: str) -> CoverageReport:
    return coverage_as_of(
        session,
        framework_key,
        as_of=period.as_of,
        period_start=period.start,
        period_end=period.end,
        engagement_id=period.engagement_id,
    )


# --- coverage figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class FrameworkFigure:
    framework_key: str
    label: str
    covered: int
    applicable: int
    percent: float
    counts: dict[str, int]
    groups: list[GroupFigure]


def framework_figure(session: Session, report: CoverageReport) -> FrameworkFigure:
    titles = {group.key: group.title for group in repository.groups(session, report.framework_key)}
    return FrameworkFigure(
        framework_key=report.framework_key,
        label=FRAMEWORK_LABELS.get(report.framework_key, report.framework_key),
        covered=report.covered,
        applicable=report.applicable,
        percent=report.percent,
        counts=dict(report.counts),
        groups=group_figures(report, titles),
    )


def controls_matching(report: CoverageReport, status: str, group_key: str | None = None) -> list[ControlCoverage]:
    """The controls behind a coverage figure: ``status`` is a control status or ``applicable``."""

    def wanted(control: ControlCoverage) -> bool:
        if group_key is not None and control.group_key != group_key:
            return False
        if status == APPLICABLE:
            return control.status != NOT_APPLICABLE
        return control.status == status

    return [control for control in report.controls if wanted(control)]


# --- controls that slipped ------------------------------------------------------------------


@dataclass(frozen=True)
class SlippedControl:
    framework_key: str
    control_id: int
    ref: str
    title: str
    status: str
    since: date  # the day it went stale, or the day of the evidence that carries the failure
    reason: Reason  # said in the reader's language where shown


def fresh_until(requirement: RequirementCoverage) -> date | None:
    if requirement.newest_at is None:
        return None
    return requirement.newest_at.date() + timedelta(days=requirement.frequency_days + requirement.grace_days)


def _slipped_since(control: ControlCoverage) -> date | None:
    if control.status == FAILING:
        days = [r.newest_at.date() for r in control.requirements if r.status == FAILING and r.newest_at]
    else:
        # Went stale the day after its newest evidence stopped being fresh; a requirement only
        # awaiting sign-off slipped when that evidence arrived unsigned.
        days = []
        for r in control.requirements:
            if r.status not in (STALE, AWAITING_SIGNOFF) or r.newest_at is None:
                continue
            until = fresh_until(r)
            days.append(until + timedelta(days=1) if r.status == STALE and until else r.newest_at.date())
    return max(days) if days else None


def slipped_controls(reports: Iterable[CoverageReport]) -> list[SlippedControl]:
    """Failing and stale controls, the most recent slip first."""
    slipped = []
    for report in reports:
        for control in report.controls:
            if control.status not in (FAILING, STALE):
                continue
            since = _slipped_since(control)
            if since is not None:
                slipped.append(
                    SlippedControl(
                        report.framework_key,
                        control.control_id,
                        control.ref,
                        control.title,
                        control.status,
                        since,
                        control.reason,
                    )
                )
    return sorted(slipped, key=lambda s: (s.since, s.framework_key, s.ref), reverse=True)


# --- expiring evidence ----------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiringItem:
    kind: str  # "requirement": its evidence's frequency runs out; "certificate": valid_until
    label: str
    title: str
    expires_on: date
    evidence_id: int | None
    requirement_key: str | None = None


def expiring_items(
    session: Session, reports: Iterable[CoverageReport], today: date, scope: Scope = EVERYTHING
) -> list[ExpiringItem]:
    """Requirements whose evidence stops being fresh within the window (each requirement once,
    whatever the number of controls it proves), and proofs whose validity ends in it."""
    last = today + timedelta(days=EXPIRY_WINDOW_DAYS)
    seen: set[int] = set()
    items = []
    for report in reports:
        for control in report.controls:
            for requirement in control.requirements:
                until = fresh_until(requirement)
                if (
                    requirement.requirement_id in seen
                    or requirement.status not in (MET, AWAITING_SIGNOFF)
                    or until is None
                ):
                    continue
                seen.add(requirement.requirement_id)
                if today <= until <= last:
                    items.append(
                        ExpiringItem(
                            kind="requirement",
                            label=requirement.key,
                            title=requirement.title,
                            expires_on=until,
                            evidence_id=max(requirement.newest_evidence_ids)
                            if requirement.newest_evidence_ids
                            else None,
                            requirement_key=requirement.key,
                        )
                    )
    certificates = repository.evidence_valid_until_between(session, today, last)
    for evidence in within(scope, certificates, lambda e: e.collected_at):
        items.append(
            ExpiringItem(
                kind="certificate",
                label=f"evidence {evidence.id}",
                title=evidence.title,
                expires_on=evidence.valid_until,
                evidence_id=evidence.id,
            )
        )
    return sorted(items, key=lambda item: (item.expires_on, item.label))


# --- collector health -----------------------------------------------------------------------


@dataclass(frozen=True)
class CollectorStatus:
    name: str
    collector: str
    enabled: bool
    remote: bool
    schedule: str
    last_run_id: int | None
    last_run_at: datetime | None
    last_status: str | None
    due_since: datetime | None  # the scheduled time it missed, when late

    @property
    def late(self) -> bool:
        return self.due_since is not None


@dataclass(frozen=True)
class CollectorHealth:
    collectors: list[CollectorStatus]
    failed_runs: list[CollectorRun]  # runs that failed or timed out in the last 7 days

    @property
    def late(self) -> list[CollectorStatus]:
        return [c for c in self.collectors if c.late]


def missed_schedule(schedule: str, last_run_at: datetime | None, now: datetime) -> datetime | None:
    """The latest scheduled time (older than the tolerance) with no run since, if any."""
    try:
        previous = croniter(schedule, now - SCHEDULE_TOLERANCE).get_prev(datetime)
    except (ValueError, KeyError):
        return None
    previous = previous if previous.tzinfo else previous.replace(tzinfo=UTC)
    if last_run_at is None or last_run_at < previous:
        return previous
    return None


def collector_health(session: Session, now: datetime, scope: Scope = EVERYTHING) -> CollectorHealth:
    """Every instance with its last run; late = enabled, scheduled here (not remote) and no run
    since its last scheduled time. Remote instances push on their own cron, so they are judged
    by their runs too: a remote one with no run since its schedule's last time is late as well."""
    if scope.unrestricted:
        last = repository.last_runs(session)
    else:  # the newest run each instance made within the reader's periods
        last = {}
        for run in within(scope, repository.runs_started_between(session, *_span(scope)), lambda r: r.started_at):
            if run.instance_id not in last or run.id > last[run.instance_id].id:
                last[run.instance_id] = run
    statuses = []
    for instance in repository.collector_instances(session):
        run = last.get(instance.id)
        started = run.started_at if run is not None else None
        statuses.append(
            CollectorStatus(
                name=instance.name,
                collector=instance.collector,
                enabled=instance.enabled,
                remote=instance.remote,
                schedule=instance.schedule,
                last_run_id=run.id if run is not None else None,
                last_run_at=started,
                last_status=run.status if run is not None else None,
                due_since=missed_schedule(instance.schedule, started, now) if instance.enabled else None,
            )
        )
    failed = within(
        scope,
        repository.failed_runs_since(session, now - timedelta(days=COLLECTOR_FAILURE_DAYS)),
        lambda r: r.started_at,
    )
    return CollectorHealth(collectors=statuses, failed_runs=failed)


def _span(scope: Scope) -> tuple[datetime, datetime]:
    """From the first start to the last end of the reader's periods (filtered further per item)."""
    windows = scope.windows or []
    if not windows:
        empty = datetime.min.replace(tzinfo=UTC)
        return empty, empty
    return min(start for start, _ in windows), max(end for _, end in windows)


# --- the dashboard --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    period: Period
    frameworks: dict[str, FrameworkFigure]
    slipped: list[SlippedControl]
    slipped_total: dict[str, int]  # failing / stale controls over both frameworks
    expiring: list[ExpiringItem]
    collectors: CollectorHealth
    open_findings: dict[str, int]  # severity -> count, every severity present
    overdue_actions: int
    open_requests: int  # open: waiting for an answer (answered ones wait for the auditor, counted apart)
    overdue_requests: int
    trend: TrendFigure
    reports: dict[str, CoverageReport]  # the coverage behind the figures, per framework
    generated_at: datetime = field(default_factory=utcnow)
    answered_requests: int = 0  # answered, waiting for the auditor's review
    contradictions: list[ControlCoverage] = field(default_factory=list)  # marked implemented, not proven

    @property
    def open_findings_total(self) -> int:
        return sum(self.open_findings.values())


def build_dashboard(
    session: Session, *, engagement_id: int | None = None, now: datetime | None = None, scope: Scope = EVERYTHING
) -> Dashboard:
    now = now or utcnow()
    today = now.date()
    period = period_for(session, engagement_id=engagement_id, today=today, scope=scope)
    engagement_id = period.engagement_id
    reports = {key: coverage_for(session, period, key) for key in FRAMEWORKS}
    slipped = slipped_controls(reports.values())
    if scope.unrestricted:
        finding_counts = repository.open_finding_counts(session)
        overdue_actions = repository.overdue_action_count(session, today)
    else:
        seen = [f for f in repository.open_findings(session) if scope.sees_finding(f)]
        finding_counts = {severity: sum(1 for f in seen if f.severity == severity) for severity in SEVERITIES}
        overdue_actions = sum(1 for f in seen if f.due_date is not None and f.due_date < today)
    trend = trends.trend(session, today=period.as_of, current={k: r.percent for k, r in reports.items()})
    if not scope.unrestricted:
        trend = TrendFigure(
            series={key: [p for p in points if scope.sees_day(p[0])] for key, points in trend.series.items()},
            change=trend.change,
        )
    return Dashboard(
        period=period,
        frameworks={key: framework_figure(session, report) for key, report in reports.items()},
        slipped=slipped[:SLIPPED_SHOWN],
        slipped_total={status: sum(1 for s in slipped if s.status == status) for status in (FAILING, STALE)},
        expiring=expiring_items(session, reports.values(), today, scope),
        collectors=collector_health(session, now, scope),
        open_findings={severity: finding_counts.get(severity, 0) for severity in reversed(SEVERITIES)},
        overdue_actions=overdue_actions,
        open_requests=len(repository.pending_requests(session, engagement_id=engagement_id, states=(STATE_OPEN,))),
        overdue_requests=len(
            repository.pending_requests(session, overdue_on=today, engagement_id=engagement_id, states=(STATE_OPEN,))
        ),
        answered_requests=len(
            repository.pending_requests(session, engagement_id=engagement_id, states=(STATE_ANSWERED,))
        ),
        trend=trend,
        reports=reports,
        generated_at=now,
        contradictions=soa_contradictions(session, reports[FRAMEWORK_2022]) if period.engagement_id is None else [],
    )


def soa_contradictions(session: Session, report: CoverageReport) -> list[ControlCoverage]:
    """Controls marked implemented in the SoA whose evidence (this very report) says otherwise."""
    from audit_portal.soa import service as soa

    return soa.contradicted_controls(session, report)


# --- the lists behind the figures -----------------------------------------------------------

CONTROL_FILTER_STATUSES = (APPLICABLE, COVERED, "partial", STALE, "missing", FAILING, "no_requirement", NOT_APPLICABLE)


def control_list(
    session: Session, *, framework_key: str, status: str, group_key: str | None, period: Period
) -> list[ControlCoverage]:
    if framework_key not in FRAMEWORKS:
        raise InvalidInput(
            N_("Unknown framework '%(value)s'; use one of %(choices)s."),
            values={"value": framework_key, "choices": ", ".join(FRAMEWORKS)},
        )
    if status not in CONTROL_FILTER_STATUSES:
        raise InvalidInput(
            N_("Unknown status '%(value)s'; use one of %(choices)s."),
            values={"value": status, "choices": ", ".join(CONTROL_FILTER_STATUSES)},
        )
    return controls_matching(coverage_for(session, period, framework_key), status, group_key)


def slipped_list(session: Session, *, status: str, period: Period) -> list[SlippedControl]:
    if status not in (FAILING, STALE):
        raise InvalidInput(N_("status must be failing or stale."))
    reports = [coverage_for(session, period, key) for key in FRAMEWORKS]
    return [s for s in slipped_controls(reports) if s.status == status]


def expiring_list(session: Session, *, period: Period, scope: Scope = EVERYTHING) -> list[ExpiringItem]:
    reports = [coverage_for(session, period, key) for key in FRAMEWORKS]
    return expiring_items(session, reports, period.as_of, scope)


def finding_list(
    session: Session, *, severity: str | None, overdue: bool, today: date, scope: Scope = EVERYTHING
) -> list[Any]:
    if severity is not None and severity not in SEVERITIES:
        raise InvalidInput(
            N_("Unknown severity '%(value)s'; use one of %(choices)s."),
            values={"value": severity, "choices": ", ".join(SEVERITIES)},
        )
    found = repository.open_findings(session, severity=severity, overdue_on=today if overdue else None)
    return [finding for finding in found if scope.sees_finding(finding)]


COLLECTOR_VIEWS = ("all", "late", "failed")


def check_collector_view(show: str) -> None:
    if show not in COLLECTOR_VIEWS:
        raise InvalidInput(
            N_("Unknown view '%(value)s'; use one of %(choices)s."),
            values={"value": show, "choices": ", ".join(COLLECTOR_VIEWS)},
        )


def request_list(
    session: Session, *, overdue: bool, today: date, engagement_id: int | None, scope: Scope = EVERYTHING
) -> list[Any]:
    """The open requests behind the dashboard's figure (answered ones wait for the auditor)."""
    if engagement_id is not None and not scope.sees_engagement(engagement_id):
        raise OutOfScope(N_("Engagement %(id)s does not exist."), values={"id": engagement_id})
    found = repository.pending_requests(
        session, overdue_on=today if overdue else None, engagement_id=engagement_id, states=(STATE_OPEN,)
    )
    return [request for request in found if scope.sees_engagement(request.engagement_id)]


def current_figures(session: Session, as_of: date) -> dict[str, float]:
    """Each framework's overall coverage of the certification year ending on ``as_of``: what the
    snapshot of that day holds and what the trend shows as its newest point."""
    return {key: coverage_as_of(session, key, as_of=as_of).percent for key in FRAMEWORKS}


@dataclass(frozen=True)
class TrendRow:
    day: date
    percent: dict[str, float | None]  # framework -> percent on that day


def trend_rows(
    session: Session, *, today: date, scope: Scope = EVERYTHING, current: dict[str, float] | None = None
) -> list[TrendRow]:
    """The stored overall coverage on the last snapshot day of each of the last 12 months, newest
    first: the numbers behind the trend chart and its month-on-month change. ``current`` (the
    figures computed now for ``today``) is the value of ``today``, so the newest row always equals
    the headline even when the stored snapshot of today was taken before the evidence changed."""
    by_day: dict[date, dict[str, float | None]] = {}
    for snapshot in snapshots.overall_between(
        session, FRAMEWORKS, today - timedelta(days=CERTIFICATION_YEAR_DAYS), today
    ):
        by_day.setdefault(snapshot.day, {key: None for key in FRAMEWORKS})[snapshot.framework_key] = snapshot.percent
    if current:
        by_day[today] = {key: current.get(key) for key in FRAMEWORKS}
    last_of_month: dict[tuple[int, int], date] = {}
    for day in sorted(by_day):
        last_of_month[(day.year, day.month)] = day
    return [TrendRow(day, by_day[day]) for day in sorted(last_of_month.values(), reverse=True) if scope.sees_day(day)]


def month_end_rows(series: dict[str, list[tuple[date, float]]]) -> list[TrendRow]:
    """The last value of each month of the trend's series, newest first: the table beside the
    trend chart, from the same points the chart draws."""
    by_day: dict[date, dict[str, float | None]] = {}
    for key, points in series.items():
        for day, percent in points:
            by_day.setdefault(day, {k: None for k in series})[key] = percent
    last_of_month: dict[tuple[int, int], date] = {}
    for day in sorted(by_day):
        last_of_month[(day.year, day.month)] = day
    return [TrendRow(day, by_day[day]) for day in sorted(last_of_month.values(), reverse=True)]


def trend_chart(board: Dashboard, target: float | None, language: str) -> Markup:
    """The 12-month trend of every framework, as on the dashboard (in the reader's ``language``)
    and in the monthly report (in English)."""
    say = Wording(language)
    last = board.period.as_of
    first = last - timedelta(days=CERTIFICATION_YEAR_DAYS)
    series = [charts.Series(say.gettext(FRAMEWORK_LABELS[key]), points) for key, points in board.trend.series.items()]
    described = "; ".join(_described_line(line, say) for line in series)
    if target:
        described += "; " + charts.target_text(target, say)
    return charts.line_chart(
        series,
        title=say.gettext("Coverage over the last 12 months"),
        description=described,
        first=first,
        last=last,
        language=language,
        target=target,
    )


def _described_line(line: charts.Series, say: Wording) -> str:
    if not line.points:
        return say.ngettext(
            "%(series)s: %(count)s daily value", "%(series)s: %(count)s daily values", 0, series=line.name
        )
    (first_day, first_percent), (last_day, last_percent) = line.points[0], line.points[-1]
    return say.ngettext(
        "%(series)s: %(count)s daily value, from %(first)s on %(first_day)s to %(last)s on %(last_day)s",
        "%(series)s: %(count)s daily values, from %(first)s on %(first_day)s to %(last)s on %(last_day)s",
        len(line.points),
        series=line.name,
        count=say.number(len(line.points)),
        first=say.percent(first_percent),
        first_day=say.day(first_day),
        last=say.percent(last_percent),
        last_day=say.day(last_day),
    )


def group_chart(figure: FrameworkFigure, target: float | None, language: str) -> Markup:
    """Coverage per theme (2022) or category (Annex 2), in the reader's ``language``."""
    say = Wording(language)
    bars = [
        (group.title, group.percent, f"{say.percent(group.percent)} ({group.covered}/{group.applicable})")
        for group in figure.groups
        if group.applicable
    ]
    described = "; ".join(f"{label}: {value}" for label, _, value in bars)
    if target:
        described += "; " + charts.target_text(target, say)
    return charts.bar_chart(
        bars,
        title=say.gettext("Coverage per group, %(framework)s", framework=say.gettext(figure.label)),
        description=described,
        language=language,
        target=target,
    )
