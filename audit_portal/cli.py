"""The ``audit-portal`` command. Domain command groups live beside their domain and are added
here, so ``audit-portal --help`` lists everything the portal can do from a shell."""

from __future__ import annotations

from typing import Annotated

import typer

from audit_portal.audit.cli import app as audit_app
from audit_portal.auth.cli import token_app, user_app
from audit_portal.backup.cli import backup_command, restore_command
from audit_portal.catalogue.cli import app as catalogue_app
from audit_portal.collection.cli import collect_app, collectors_app
from audit_portal.console import console, fail, settings_or_exit
from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.coverage.cli import app as coverage_app
from audit_portal.evidence.cli import app as store_app
from audit_portal.export.cli import app as package_app
from audit_portal.notifications.cli import app as digest_app
from audit_portal.reports.cli import app as report_app
from audit_portal.trends.cli import app as snapshots_app

app = typer.Typer(help="ISO/IEC 27001 control-evidence collection and audit portal.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(collectors_app, name="collectors")
app.add_typer(collect_app, name="collect")
app.add_typer(store_app, name="store")
app.add_typer(package_app, name="package")
app.add_typer(snapshots_app, name="snapshots")
app.add_typer(report_app, name="report")
app.add_typer(digest_app, name="digest")
app.add_typer(coverage_app, name="coverage")
app.command("backup")(backup_command)
# Every command's sessions (imports, collector runs, purges, the demo) keep the coverage rollup.
coverage_rollup.install()
app.command("restore")(restore_command)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="target revision")] = "heads",
    down: Annotated[bool, typer.Option("--down", help="downgrade to REVISION instead")] = False,
) -> None:
    """Bring the database schema to REVISION (default: the newest)."""
    from audit_portal import migrate as migrations
    from audit_portal.db import engine_for

    settings = settings_or_exit()
    engine = engine_for(settings)
    try:
        if down:
            migrations.downgrade(engine, revision)
        else:
            migrations.upgrade(engine, revision)
    except Exception as error:
        raise fail(f"migration failed on {engine.url.render_as_string(hide_password=True)}: {error}")
    console.print(f"database at revision {', '.join(sorted(migrations.current_revisions(engine))) or 'base'}")


@app.command()
def check() -> None:
    """Check the configuration and that the database and the evidence store answer."""
    from audit_portal.db import engine_for
    from audit_portal.health.service import database_health, store_health
    from audit_portal.store import build_store

    settings = settings_or_exit()
    try:
        store = build_store(settings)
    except ValueError as error:
        raise fail(str(error), 2)
    results = [database_health(engine_for(settings)), store_health(store)]
    for result in results:
        mark = "[green]ok[/green]" if result.ok else "[red]down[/red]"
        console.print(f"{result.name:9} {mark}  {result.detail}", highlight=False)
    if not all(result.ok for result in results):
        raise typer.Exit(1)


# Longer than the idle timeout of any proxy in front (nginx's upstream keepalive_timeout: 60 s).
KEEP_ALIVE_SECONDS = 75


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the web portal with uvicorn (and the collector scheduler unless disabled)."""
    import uvicorn

    from audit_portal import migrate as migrations
    from audit_portal.db import engine_for

    settings = settings_or_exit()
    engine = engine_for(settings)
    try:
        up_to_date = migrations.is_up_to_date(engine)
    except Exception as error:
        raise fail(f"AUDIT_PORTAL_DATABASE_URL: database unreachable: {error}".splitlines()[0], 2)
    if not up_to_date:
        raise fail("the database schema is not the newest; run 'audit-portal migrate'")
    console.print(f"audit-portal listening on http://{host}:{port}", highlight=False)
    uvicorn.run(
        "audit_portal.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # The app itself believes X-Forwarded-* only from AUDIT_PORTAL_TRUSTED_PROXIES
        # (security.install_security); uvicorn's own handling would be a second setting.
        proxy_headers=False,
        # A proxy re-uses idle connections to the portal (nginx: upstream keepalive, idle for up
        # to 60 s). The side that closes an idle connection must be the proxy: when the portal
        # closes one (uvicorn's default is after 5 s) just as the proxy sends the next request on
        # it, that request gets a reset, and a POST is not retried (a 502 for the user).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="only when the database holds no data")] = False,
) -> None:
    """Load the demo organisation: users of each role, a year of evidence and collector runs."""
    from audit_portal.db import engine_for, unit_of_work
    from audit_portal.demo import database_is_empty, load_demo, print_demo_logins
    from audit_portal.errors import PortalError
    from audit_portal.store import build_store

    settings = settings_or_exit()
    engine = engine_for(settings)
    try:
        with unit_of_work(engine) as session:
            if if_empty and not database_is_empty(session):
                console.print("database already holds data; demo not loaded")
                print_demo_logins(session, console)
                return
            load_demo(session, build_store(settings), settings, console)
    except PortalError as error:
        raise fail(f"demo not loaded: {error.detail}") from None
    with unit_of_work(engine) as session:
        print_demo_logins(session, console)


def main() -> None:  # pragma: no cover - console entry point wrapper for python -m
    app(prog_name="audit-portal")


if __name__ == "__main__":  # pragma: no cover
    main()
