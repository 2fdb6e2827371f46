"""The monthly compliance report: the dashboard's figures, the coverage table, the open findings
and the trend, as a PDF (WeasyPrint) and an XLSX workbook (openpyxl).

Both files go through the evidence ingest like any other proof, linked to requirement
``CMP-1/compliance-review``: the report is itself evidence that compliance is checked. A report
for month M describes the certification year ending on M's last day (or today, for the running
month), as of that day.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.coverage.service import STATUS_LABELS, status_label
from audit_portal.dashboard import service as dashboard
from audit_portal.engagements.scope import EVERYTHING, Scope, within
from audit_portal.errors import InvalidInput
from audit_portal.evidence import service as evidence
from audit_portal.evidence.models import SOURCE_COLLECTOR
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.findings.models import Finding
from audit_portal.findings.service import STATUS_LABELS as FINDING_STATUS_LABELS
from audit_portal.i18n import DEFAULT_LANGUAGE, N_, Label, Word, Wording
from audit_portal.principals import Actor
from audit_portal.reports import repository
from audit_portal.reports.models import ComplianceReport

if TYPE_CHECKING:
    from openpyxl import Workbook

REQUIREMENT_KEY = "CMP-1/compliance-review"
REPORT_SOURCE = "compliance-report"  # the collector instance named on scheduled reports
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
COVERAGE_COLUMNS = (N_("Framework"), N_("Control"), N_("Title"), N_("Group"), N_("Status"), N_("Why"))
FINDING_COLUMNS = (
    N_("Id"),
    N_("Finding"),
    N_("Severity"),
    N_("Status"),
    N_("Source"),
    N_("Collector"),
    N_("Owner"),
    N_("Corrective action"),
    N_("Due"),
)


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(first: date) -> date:
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def previous_month(today: date) -> date:
    return month_start(month_start(today) - timedelta(days=1))


def parse_month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise InvalidInput(
            N_("'%(text)s' is not a month; write it as YYYY-MM, e.g. 2026-10."), values={"text": text}
        ) from None


@dataclass(frozen=True)
class ReportData:
    month: date
    as_of: date
    board: dashboard.Dashboard
    findings: list[Finding]
    trend: list[dashboard.TrendRow]
    target: float | None = None  # the coverage target (settings), drawn in the charts

    @property
    def title(self) -> str:
        return f"Compliance report {self.month:%Y-%m}"


def collect_report_data(
    session: Session, month: date, *, now: datetime | None = None, target: float | None = None
) -> ReportData:
    now = now or utcnow()
    first = month_start(month)
    if first > now.date():
        raise InvalidInput(
            N_("%(month)s has not begun; a report describes a month that has."), values={"month": f"{first:%Y-%m}"}
        )
    as_of = min(month_end(first), now.date())
    board = dashboard.build_dashboard(session, now=datetime.combine(as_of, time(23, 59), tzinfo=UTC))
    findings = dashboard.finding_list(session, severity=None, overdue=False, today=as_of)
    current = {key: figure.percent for key, figure in board.frameworks.items()}
    return ReportData(
        month=first,
        as_of=as_of,
        board=board,
        findings=findings,
        trend=dashboard.trend_rows(session, today=as_of, current=current),
        target=target or None,
    )


# --- PDF --------------------------------------------------------------------------------------


def render_pdf(data: ReportData, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The report in ``language``: the organisation's report language (``report_language`` in
    the settings), not one reader's; its charts speak it too."""
    from weasyprint import HTML

    from audit_portal.templating import build_templates

    html = (
        build_templates()
        .env.get_template("pages/reports/report_pdf.html")
        .render(
            language=language,
            data=data,
            board=data.board,
            labels=dashboard.FRAMEWORK_LABELS,
            status_labels=STATUS_LABELS,
            chart=dashboard.trend_chart(data.board, data.target, language),
            group_charts={
                key: dashboard.group_chart(figure, data.target, language)
                for key, figure in data.board.frameworks.items()
            },
        )
    )
    return HTML(string=html).write_pdf()


# --- XLSX -------------------------------------------------------------------------------------


def _cell(value: object) -> object:
    """Text typed by people (finding titles, owners) never becomes a formula in the workbook."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _sheet(workbook: Workbook, title: str, header: list[str], rows: list[list[object]], *, first: bool = False):
    from openpyxl.styles import Font

    sheet = workbook.active if first else workbook.create_sheet()
    sheet.title = title
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(value) for value in row])
    sheet.freeze_panes = "A2"
    return sheet


def summary_rows(data: ReportData, language: str = DEFAULT_LANGUAGE) -> list[list[object]]:
    """The summary sheet: a label in ``language`` and its value (the figures, month and dates as
    they are)."""
    say = Wording(language).gettext
    board = data.board
    rows: list[list[object]] = [
        [say(N_("Report month")), f"{data.month:%Y-%m}"],
        [say(N_("Period")), board.period.label],
        [say(N_("Figures as of")), data.as_of.isoformat()],
    ]
    for figure in board.frameworks.values():
        rows += [
            [say(N_("%(framework)s: coverage %%"), framework=Label(figure.label)), figure.percent],
            [say(N_("%(framework)s: covered controls"), framework=Label(figure.label)), figure.covered],
            [say(N_("%(framework)s: applicable controls"), framework=Label(figure.label)), figure.applicable],
        ]
        change = board.trend.change.get(figure.framework_key)
        rows.append(
            [
                say(N_("%(framework)s: change since a month ago (points)"), framework=Label(figure.label)),
                change if change is not None else say(N_("no snapshot")),
            ]
        )
    rows += [
        [say(N_("Failing controls")), board.slipped_total["failing"]],
        [say(N_("Stale controls")), board.slipped_total["stale"]],
        [say(N_("Evidence expiring in 30 days")), len(board.expiring)],
        [say(N_("Collectors")), len(board.collectors.collectors)],
        [say(N_("Failed collector runs (7 days)")), len(board.collectors.failed_runs)],
        [say(N_("Collectors not run on schedule")), len(board.collectors.late)],
        *[
            [say(N_("Open findings: %(severity)s"), severity=Word(severity)), count]
            for severity, count in board.open_findings.items()
        ],
        [say(N_("Overdue corrective actions")), board.overdue_actions],
        [say(N_("Implemented in the SoA but not proven")), len(board.contradictions)],
        [say(N_("Open evidence requests")), board.open_requests],
        [say(N_("Answered evidence requests awaiting review")), board.answered_requests],
        [say(N_("Overdue evidence requests")), board.overdue_requests],
    ]
    return rows


def coverage_rows(data: ReportData, language: str = DEFAULT_LANGUAGE) -> list[list[object]]:
    say = Wording(language).gettext
    return [
        [
            say(dashboard.FRAMEWORK_LABELS[key]),
            control.ref,
            control.title,
            control.group_key,
            say(status_label(control.status)),
            control.reason.in_language(language),
        ]
        for key, report in data.board.reports.items()
        for control in report.controls
    ]


def finding_rows(data: ReportData, language: str = DEFAULT_LANGUAGE) -> list[list[object]]:
    say = Wording(language)
    return [
        [
            f.id,
            f.title,
            say.word(f.severity).capitalize(),
            say.gettext(FINDING_STATUS_LABELS.get(f.status, f.status)),
            f.source,
            f.collector_instance or "",
            f.owner or "",
            f.corrective_action or "",
            f.due_date.isoformat() if f.due_date else "",
        ]
        for f in data.findings
    ]


def trend_table(data: ReportData) -> list[list[object]]:
    return [[row.day.isoformat(), *[row.percent[key] for key in dashboard.FRAMEWORKS]] for row in data.trend]


def render_xlsx(data: ReportData, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The workbook; its sheet titles, column headers and summary labels in ``language`` (English
    by default, as scripts that read the workbook expect), the values as they are."""
    from openpyxl import Workbook  # on demand: openpyxl takes about 18 MiB of a process

    say = Wording(language).gettext
    workbook = Workbook()
    _sheet(
        workbook, say(N_("Summary")), [say(N_("Figure")), say(N_("Value"))], summary_rows(data, language), first=True
    )
    _sheet(
        workbook,
        say(N_("Coverage")),
        [say(header) for header in COVERAGE_COLUMNS],
        coverage_rows(data, language),
    )
    _sheet(workbook, say(N_("Findings")), [say(header) for header in FINDING_COLUMNS], finding_rows(data, language))
    _sheet(
        workbook,
        say(N_("Trend")),
        [say(N_("Day")), *[say(dashboard.FRAMEWORK_LABELS[k]) for k in dashboard.FRAMEWORKS]],
        trend_table(data),
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- generating and keeping ------------------------------------------------------------------


def _ingest(
    session,
    store,
    data: ReportData,
    content: bytes,
    extension: str,
    source: EvidenceSource,
    max_bytes: int,
    actor: Actor,
):
    meta = EvidenceMeta(
        title=f"{data.title} ({extension.upper()})",
        description=f"Monthly compliance report generated by the portal: {data.board.period.label}.",
        period_from=data.board.period.start,
        period_to=data.as_of,
        requirements=[REQUIREMENT_KEY],
    )
    return evidence.ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename=f"compliance-report-{data.month:%Y-%m}.{extension}",
        meta=meta,
        source=source,
        max_bytes=max_bytes,
        actor=actor,
    )


def generate_monthly_report(
    session: Session,
    store,
    *,
    month: date,
    max_bytes: int,
    actor: Actor,
    coverage_target: float | None = None,
    language: str = DEFAULT_LANGUAGE,
    reader_language: str | None = None,
) -> ComplianceReport:
    """Render the month's report in both formats and keep both as evidence of CMP-1. The PDF
    speaks ``language``, the organisation's report language; the workbook's headers speak
    ``reader_language`` (whoever asked for the report on the reports page), else the same."""
    principal = actor.principal
    data = collect_report_data(session, month, target=coverage_target)
    if principal.user_id is not None:
        source = EvidenceSource.upload(principal.user_id)
    else:
        source = EvidenceSource(kind=SOURCE_COLLECTOR, collector_instance=REPORT_SOURCE)
    pdf_bytes, xlsx_bytes = render_pdf(data, language), render_xlsx(data, reader_language or language)
    pdf = _ingest(session, store, data, pdf_bytes, "pdf", source, max_bytes, actor)
    xlsx = _ingest(session, store, data, xlsx_bytes, "xlsx", source, max_bytes, actor)
    report = repository.add(
        session,
        ComplianceReport(
            month=data.month,
            generated_at=utcnow(),
            generated_by=principal.username[:100],
            pdf_evidence_id=pdf.id,
            xlsx_evidence_id=xlsx.id,
        ),
    )
    record_event(
        session,
        actor=actor,
        action="report.generate",
        object_type="compliance_report",
        object_id=report.id,
        detail={"month": f"{data.month:%Y-%m}", "pdf_evidence_id": pdf.id, "xlsx_evidence_id": xlsx.id},
    )
    return report


def list_reports(session: Session, reader: Scope = EVERYTHING) -> list[ComplianceReport]:
    """The newest reports; an auditor sees those generated within their periods, as with any
    other evidence (engagements/scope.py)."""
    return within(reader, repository.newest_first(session), lambda report: report.generated_at)


def generate_due_report(
    session: Session,
    store,
    *,
    max_bytes: int,
    actor: Actor,
    today: date | None = None,
    coverage_target: float | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> ComplianceReport | None:
    """Last month's report, unless it exists already: what the scheduler runs each day."""
    month = previous_month(today or utcnow().date())
    if repository.exists_for_month(session, month):
        return None
    return generate_monthly_report(
        session,
        store,
        month=month,
        max_bytes=max_bytes,
        actor=actor,
        coverage_target=coverage_target,
        language=language,
    )
