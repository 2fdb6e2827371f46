"""``audit-portal store``: commands about the evidence store as a whole."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from audit_portal.console import console, err_console, settings_or_exit
from audit_portal.templating import format_size

app = typer.Typer(
    help="The evidence store: reconcile objects with records, verify them, purge expired evidence.",
    no_args_is_help=True,
)


@app.command()
def reconcile(
    remove: Annotated[bool, typer.Option("--remove", help="delete orphans older than the grace period")] = False,
    grace_hours: Annotated[
        float, typer.Option("--grace-hours", min=0, help="orphans younger than this are only reported")
    ] = 24.0,
) -> None:
    """Report objects no record uses (orphans of failed uploads), leftovers of interrupted writes
    (staging files, incomplete S3 multipart uploads) and records whose object is missing. Objects
    a record or an upload in flight uses are never removed. Exit status 1 when a record lacks its
    object (that needs a person to look)."""
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.evidence.service import reconcile as run_reconcile
    from audit_portal.store import build_store

    settings = settings_or_exit()
    store = build_store(settings)
    with unit_of_work(make_engine(settings.database_url)) as session:
        report = run_reconcile(session, store, remove=remove, grace=timedelta(hours=grace_hours))
    console.print(
        f"checked {report.objects_checked} objects and {report.records_checked} records in {store.describe()}",
        highlight=False,
    )
    for orphan in report.orphans:
        if orphan.removed:
            state = "removed"
        elif orphan.problem:
            state = f"kept: {orphan.problem}"
        elif orphan.removable:
            state = "removable (run with --remove)" if not remove else "kept"
        else:
            state = f"within the grace period of {grace_hours:g} h"
        console.print(
            f"orphan  {orphan.key}  {format_size(orphan.size)}  {orphan.last_modified:%Y-%m-%d %H:%M} UTC  {state}",
            highlight=False,
        )
    for entry in report.leftovers:
        leftover = entry.leftover
        if entry.removed:
            state = "removed"
        elif entry.problem:
            state = f"kept: {entry.problem}"
        elif entry.removable:
            state = "removable (run with --remove)" if not remove else "kept"
        else:
            state = f"within the grace period of {grace_hours:g} h (a write may still be running)"
        size = format_size(leftover.size) if leftover.size is not None else "size unknown"
        console.print(
            f"leftover  {leftover.kind}  {leftover.name}  {size}  {leftover.started:%Y-%m-%d %H:%M} UTC  {state}",
            highlight=False,
        )
    for key in report.stale_pending:
        console.print(
            f"abandoned upload  {key}  {'dropped' if remove else 'older than the grace period'}", highlight=False
        )
    for key, evidence_ids in report.missing:
        err_console.print(
            f"[red]missing[/red] {key}: object of evidence {', '.join(map(str, evidence_ids))} is not in the store",
            highlight=False,
        )
    removed_leftovers = sum(entry.removed for entry in report.leftovers)
    console.print(
        f"{len(report.orphans)} orphans ({len(report.removed)} removed), {len(report.missing)} missing objects, "
        f"{len(report.leftovers)} leftovers of interrupted writes ({removed_leftovers} removed), "
        f"{report.pending} uploads in flight",
        highlight=False,
    )
    if report.missing:
        raise typer.Exit(1)


@app.command()
def verify(
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="check this many objects chosen at random, not all")
    ] = None,
) -> None:
    """Re-hash stored objects (the scrub). Evidence whose object no longer matches its SHA-256 is
    marked corrupted (shown on its page, the control pages and the dashboard, and an audit event).
    Exit status 1 when anything is corrupted or missing."""
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.evidence.service import verify as run_verify
    from audit_portal.store import build_store

    settings = settings_or_exit()
    store = build_store(settings)
    with unit_of_work(make_engine(settings.database_url)) as session:
        report = run_verify(session, store, sample=sample)
    for problem in report.problems:
        ids = ", ".join(map(str, problem.evidence_ids)) or "already marked"
        err_console.print(
            f"[red]{problem.problem}[/red] {problem.store_key}: {problem.detail}; evidence {ids}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"verified {report.objects_checked} objects ({format_size(report.bytes_read)}) in {store.describe()}: "
        f"{len(report.problems)} corrupted or missing",
        highlight=False,
    )
    if report.problems:
        raise typer.Exit(1)


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be deleted, delete nothing")] = False,
) -> None:
    """Delete evidence whose retention date has passed (not items on legal hold), each deletion
    an audit event; then delete the objects no remaining record shares."""
    from audit_portal.clock import utcnow
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.evidence.retention import delete_unshared_objects, purge_records
    from audit_portal.store import build_store

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    with unit_of_work(engine) as session:
        purged = purge_records(session, today=utcnow().date(), dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    for item in purged:
        console.print(
            f"{verb} evidence {item.evidence_id}  retained until {item.retention_until}  {item.title}", highlight=False
        )
    console.print(f"{len(purged)} evidence records {'to purge' if dry_run else 'purged'}", highlight=False)
    if dry_run or not purged:
        return
    with unit_of_work(engine) as session:
        outcomes = delete_unshared_objects(session, build_store(settings), {item.store_key for item in purged})
    for outcome in outcomes:
        if not outcome.deleted:
            console.print(f"object {outcome.key} kept: {outcome.reason}", highlight=False)
    console.print(f"{sum(o.deleted for o in outcomes)} objects deleted", highlight=False)
