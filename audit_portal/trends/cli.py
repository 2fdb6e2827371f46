"""``audit-portal snapshots``: take today's coverage snapshot, or back-fill past days."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from audit_portal.console import console, fail, settings_or_exit

app = typer.Typer(help="Daily coverage snapshots behind the dashboard's trend.", no_args_is_help=True)


@app.command()
def take() -> None:
    """Store today's coverage per framework and group (run daily from cron, or by the scheduler)."""
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.trends.service import take_snapshot

    settings = settings_or_exit()
    with unit_of_work(make_engine(settings.database_url)) as session:
        rows = take_snapshot(session)
    overall = [row for row in rows if row.group_key is None]
    for row in overall:
        console.print(
            f"{row.day} {row.framework_key}: {row.percent:.1f}% ({row.covered}/{row.applicable})", highlight=False
        )


@app.command()
def backfill(
    days: Annotated[int, typer.Option("--days", min=1, help="how many days back from today")] = 365,
) -> None:
    """Compute and store the snapshots of the last DAYS days from the evidence history."""
    from audit_portal.clock import utcnow
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.trends.service import backfill as run_backfill

    settings = settings_or_exit()
    today = utcnow().date()
    try:
        with unit_of_work(make_engine(settings.database_url)) as session:
            result = run_backfill(session, today - timedelta(days=days - 1), today)
    except PortalError as error:
        raise fail(str(error))
    console.print(
        f"back-filled {result.days} days ({result.first} to {result.last}): {result.rows} snapshot rows",
        highlight=False,
    )
