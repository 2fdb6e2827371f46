"""Demo step: a year of coverage history and last month's compliance report."""
from __future__ import annotations

from datetime import timedelta

from audit_portal.dashboard.service import CERTIFICATION_YEAR_DAYS
from audit_portal.demo import DemoContext
from audit_portal.trends.service import backfill


def demo_trend_and_report(context: DemoContext) -> None:
    """Back-fill 12 months of coverage snapshots and generate last month's compliance report."""
    from audit_portal.reports.service import generate_monthly_report, previous_month

    today = context.now.date()
    result = backfill(context.session, today - timedelta(days=CERTIFICATION_YEAR_DAYS - 1), today)
    context.console.print(f"demo: {result.days} days of coverage snapshots", highlight=False)
    report = generate_monthly_report(
        context.session, context.store, month=previous_month(today), max_bytes=context.settings.max_upload_bytes,
        generated_by="demo",
    )
    context.console.print(f"demo: compliance report of {report.month:%Y-%m} kept as evidence", highlight=False)
