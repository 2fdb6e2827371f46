"""``audit-portal audit ...``: check the audit log's hash chain."""
from __future__ import annotations

import typer

from audit_portal.console import console, err_console, settings_or_exit

app = typer.Typer(help="The audit log.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Check the hash chain of the audit log; exit 1 naming the first broken event."""
    from audit_portal.audit.service import verify_chain
    from audit_portal.db import make_engine, unit_of_work

    settings = settings_or_exit()
    with unit_of_work(make_engine(settings.database_url)) as session:
        report = verify_chain(session)
    if report.problem is not None:
        err_console.print(
            f"[red]audit log chain broken[/red] at {report.problem} "
            f"({report.checked} events before it are intact)", highlight=False, soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(f"audit log intact: {report.checked} events, chain verified", highlight=False)
