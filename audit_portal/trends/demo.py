"""Demo step: a year of coverage history and last month's compliance report."""

from __future__ import annotations

from datetime import timedelta

from audit_portal.demo_context import DemoContext
from audit_portal.engagements.scope import CERTIFICATION_YEAR_DAYS
from audit_portal.principals import Actor
from audit_portal.trends.service import backfill


def demo_trend_and_report(context: DemoContext) -> None:
    """Back-fill 12 months of coverage snapshots and generate last month's compliance report."""
    from audit_portal.reports.service import generate_monthly_report, previous_month

    today = context.now.date()
    result = backfill(context.session, today - timedelta(days=CERTIFICATION_YEAR_DAYS - 1), today)
    context.console.print(f"demo: {result.days} days of coverage snapshots", highlight=False)
    try:
        with context.session.begin_nested():
            report = generate_monthly_report(
                context.session,
                context.store,
                month=previous_month(today),
                max_bytes=context.settings.max_upload_bytes,
                actor=Actor.system("demo"),
                coverage_target=context.settings.coverage_target_percent,
                language=context.settings.report_language,
            )
    except OSError as error:  # WeasyPrint loads Pango when first used; a bare machine may lack it
        context.console.print(
            f"demo: no compliance report ({error}); install Pango (Debian: libpango-1.0-0 "
            "libpangoft2-1.0-0) and run 'audit-portal report monthly'",
            highlight=False,
        )
        return
    context.console.print(f"demo: compliance report of {report.month:%Y-%m} kept as evidence", highlight=False)
