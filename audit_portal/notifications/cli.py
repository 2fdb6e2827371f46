"""``audit-portal digest send``: the weekly e-mail digest (for cron: ``0 7 * * 1``)."""

from __future__ import annotations

from typing import Annotated

import typer

from audit_portal.console import console, fail, settings_or_exit
from audit_portal.principals import Actor

app = typer.Typer(help="The weekly e-mail digest.", no_args_is_help=True)


@app.command()
def send(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print who would receive what; send nothing")] = False,
) -> None:
    """Send each user who asked for it the digest of their role."""
    import smtplib

    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.notifications.service import send_digests

    settings = settings_or_exit()
    try:
        with unit_of_work(make_engine(settings.database_url)) as session:
            result = send_digests(session, settings, dry_run=dry_run, actor=Actor.system("cli"))
    except PortalError as error:
        raise fail(str(error))
    except (OSError, smtplib.SMTPException) as error:
        raise fail(f"SMTP server {settings.smtp_host}:{settings.smtp_port}: {error}")
    for message in result.messages:
        if dry_run:
            console.print(f"--- to {message['To']}: {message['Subject']}", highlight=False)
            body = message.get_body(preferencelist=("plain",))
            console.print(body.get_content() if body else "", highlight=False, markup=False)
    verb = "would send" if dry_run else "sent"
    console.print(f"{verb} {len(result.sent)} digest(s)", highlight=False)
