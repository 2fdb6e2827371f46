"""``audit-portal report monthly``: generate a monthly compliance report (for cron)."""

from __future__ import annotations

from typing import Annotated

import typer

from audit_portal.console import console, fail, settings_or_exit
from audit_portal.principals import Actor

app = typer.Typer(help="Monthly compliance reports, kept as evidence of CMP-1.", no_args_is_help=True)


@app.command()
def monthly(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM; default: last month")] = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="only when no report of that month exists")] = False,
) -> None:
    """Generate the report of MONTH as PDF and XLSX and keep both as evidence. From cron:
    ``30 0 1 * * audit-portal report monthly --if-missing``."""
    from audit_portal.clock import utcnow
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.reports import repository, service
    from audit_portal.store import build_store

    settings = settings_or_exit()
    try:
        wanted = service.parse_month(month) if month else service.previous_month(utcnow().date())
        with unit_of_work(make_engine(settings.database_url)) as session:
            if if_missing and repository.exists_for_month(session, wanted):
                console.print(f"a report of {wanted:%Y-%m} exists already; nothing to do", highlight=False)
                return
            report = service.generate_monthly_report(
                session,
                build_store(settings),
                month=wanted,
                max_bytes=settings.max_upload_bytes,
                actor=Actor.system("cli"),
                coverage_target=settings.coverage_target_percent,
                language=settings.report_language,
            )
    except PortalError as error:
        raise fail(str(error))
    console.print(
        f"report {report.id} of {report.month:%Y-%m}: PDF is evidence {report.pdf_evidence_id}, "
        f"XLSX is evidence {report.xlsx_evidence_id}",
        highlight=False,
    )
