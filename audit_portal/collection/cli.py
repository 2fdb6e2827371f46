"""``audit-portal collectors ...`` (configure instances) and ``audit-portal collect run``
(run them from cron, a Kubernetes CronJob, or on a remote host that pushes to the portal)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from audit_portal.console import console, fail, settings_or_exit
from audit_portal.errors import PortalError
from audit_portal.principals import Actor

collectors_app = typer.Typer(help="Collector plugins and their configured instances.", no_args_is_help=True)
collect_app = typer.Typer(help="Run collector instances.", no_args_is_help=True)

EXIT_FAILED_RUN = 1
EXIT_BUSY = 3


def _engine_and_store():
    import audit_portal.model_registry  # noqa: F401 - foreign keys need every table known
    from audit_portal.db import make_engine
    from audit_portal.store import build_store

    settings = settings_or_exit()
    return settings, make_engine(settings.database_url), build_store(settings)


@collectors_app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="YAML list of instances (name, collector, config, schedule, ...)",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
) -> None:
    """Create or update collector instances from a YAML file (secrets are stored encrypted).

    Imported instances are host-managed: only they may name commands of their own and files,
    which must lie inside AUDIT_PORTAL_COLLECTOR_PATH_ROOTS (never the data directory); the web
    cannot edit them."""
    from audit_portal.collection import service
    from audit_portal.db import unit_of_work

    settings, engine, _store = _engine_and_store()
    try:
        with unit_of_work(engine) as session:
            saved = service.import_instances(
                session, file.read_text(encoding="utf-8"), settings=settings, actor=Actor.system(f"cli:{file.name}")
            )
            names = [instance.name for instance in saved]
    except PortalError as error:
        raise fail(f"{file}: {error.detail}") from None
    console.print(f"imported {len(names)} instance(s): {', '.join(names)}", highlight=False)


@collectors_app.command("list")
def list_instances(
    plugins: Annotated[bool, typer.Option("--plugins", help="list the installed collector plugins instead")] = False,
) -> None:
    """List configured instances with their last run and next run (or the installed plugins)."""
    from audit_portal.collection import views
    from audit_portal.db import unit_of_work
    from collectors import registry

    if plugins:
        table = Table("collector", "target", "distribution", "status")
        for info in registry.discover(settings_or_exit().collector_allowlist).values():
            table.add_row(info.name, info.target, info.distribution, "ok" if info.usable else info.problem)
        console.print(table)
        return
    _settings, engine, _store = _engine_and_store()
    with unit_of_work(engine) as session:
        rows = views.overview(session)
    table = Table("instance", "collector", "schedule", "enabled", "last run", "status", "next run", "open findings")
    for row in rows:
        table.add_row(
            row.instance.name,
            row.instance.collector,
            row.instance.schedule,
            "remote" if row.instance.remote else ("yes" if row.instance.enabled else "no"),
            f"{row.last_run.started_at:%Y-%m-%d %H:%M}" if row.last_run else "—",
            row.last_run.status if row.last_run else "—",
            f"{row.next_run:%Y-%m-%d %H:%M}" if row.next_run else "—",
            str(row.open_findings),
        )
    console.print(table)


@collect_app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(help="instance to run")] = None,
    due: Annotated[bool, typer.Option("--due", help="run every instance whose schedule is due")] = False,
    push: Annotated[str | None, typer.Option("--push", help="portal URL: run here and upload the results")] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="service token for --push (or AUDIT_PORTAL_PUSH_TOKEN)")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML file defining the instance, for --push", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Run one instance now, or every due one (for cron or a Kubernetes CronJob).

    Exit codes: 0 ran (or nothing was due), 1 a run failed, 3 the instance is running elsewhere.
    """
    if (name is None) == (not due):
        raise fail("give an instance NAME or --due (not both)", 2)
    if push:
        if due or name is None or config is None:
            raise fail("--push runs one NAME defined in --config FILE", 2)
        _run_and_push(name, push, token or os.environ.get("AUDIT_PORTAL_PUSH_TOKEN", ""), config)
        return
    _run_here([name] if name else None)


def _run_here(names: list[str] | None) -> None:
    from audit_portal.collection import service
    from audit_portal.collection.models import TRIGGER_CLI
    from audit_portal.db import unit_of_work

    settings, engine, store = _engine_and_store()
    if names is None:
        with unit_of_work(engine) as session:
            due = service.due_instances(session)
        if not due:
            console.print("nothing is due")
            return
        targets = [(item.name, item.trigger, True) for item in due]
    else:
        targets = [(names[0], TRIGGER_CLI, False)]
    code = 0
    for instance_name, trigger, only_if_due in targets:
        try:
            report = service.run_instance(
                lambda: unit_of_work(engine), store, settings, instance_name, trigger=trigger, only_if_due=only_if_due
            )
        except PortalError as error:
            raise fail(error.detail) from None
        if report.run_id is None:
            console.print(f"{instance_name}: not run: {report.reason}", highlight=False)
            code = code or (EXIT_BUSY if names else 0)
            continue
        console.print(f"{instance_name}: run {report.run_id} {report.status}", highlight=False)
        if report.status != "ok":
            code = EXIT_FAILED_RUN
    if code:
        raise typer.Exit(code)


def _run_and_push(name: str, url: str, token: str, config_file: Path) -> None:
    from audit_portal.collection import push

    if not token:
        raise fail("--push needs --token (or AUDIT_PORTAL_PUSH_TOKEN)", 2)
    try:
        result = push.run_and_push(name, config_file.read_text(encoding="utf-8"), base_url=url, token=token)
    except push.PushFailed as error:
        raise fail(str(error)) from None
    except PortalError as error:
        raise fail(error.detail) from None
    console.print(
        f"{name}: run {result.run_id} {result.status}, {result.uploaded} artifact(s) pushed to {url}", highlight=False
    )
    if result.status != "ok":
        raise typer.Exit(EXIT_FAILED_RUN)
