"""``audit-portal audit ...``: check the audit log against its key and checkpoints, and write a
checkpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from audit_portal.console import console, err_console, fail, settings_or_exit

app = typer.Typer(help="The audit log.", no_args_is_help=True)


def _engine_with_key(settings):
    from audit_portal.audit import keys
    from audit_portal.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        keys.bind(engine, keys.chain_key(settings))
    except keys.ChainKeyError as error:
        raise fail(str(error), 2) from None
    return engine


@app.command()
def verify(
    scan_store: Annotated[
        bool,
        typer.Option(
            "--scan-store",
            help="also read every small object in the store, to find checkpoints whose records were deleted",
        ),
    ] = False,
) -> None:
    """Check every event's hash and MAC and the log against every signed checkpoint; exit 1
    naming the first bad event, 2 when the key is not the one the log is written with."""
    from audit_portal.audit.checkpoints import verify_log
    from audit_portal.db import unit_of_work
    from audit_portal.export.signing import SigningKeyError
    from audit_portal.store import build_store
    from evidence_store import StoreError

    settings = settings_or_exit()
    engine = _engine_with_key(settings)
    try:
        with unit_of_work(engine) as session:
            result = verify_log(session, build_store(settings), settings, scan_store=scan_store)
    except (SigningKeyError, StoreError, ValueError) as error:
        raise fail(f"checkpoints cannot be read: {error}", 2) from None
    report = result.report
    if report.wrong_key:
        raise fail(f"wrong audit key: {report.wrong_key}", 2)
    for problem in result.checkpoint_problems:
        err_console.print(f"[red]checkpoint problem[/red]: {problem}", highlight=False, soft_wrap=True)
    if report.problem is not None:
        err_console.print(
            f"[red]audit log chain broken[/red] at {report.problem} ({report.checked} events before it are intact)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    if result.checkpoint_problems:
        raise typer.Exit(1)
    newest = result.checkpoints[-1].label if result.checkpoints else "none yet"
    console.print(
        f"audit log intact: {report.checked} events, hashes and MACs verified, "
        f"{len(result.checkpoints)} checkpoints agree (newest: {newest})",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def checkpoint() -> None:
    """Sign the head of the audit log and keep it in the evidence store as evidence."""
    from audit_portal.audit.checkpoints import write_checkpoint
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.export.signing import SigningKeyError
    from audit_portal.store import build_store

    settings = settings_or_exit()
    engine = _engine_with_key(settings)
    try:
        with unit_of_work(engine) as session:
            written = write_checkpoint(session, build_store(settings), settings)
    except (PortalError, SigningKeyError) as error:
        raise fail(str(error)) from None
    console.print(
        f"checkpoint of {written.event_count} events written as evidence {written.evidence_id} "
        f"({written.store_key}), signed by {written.signing_key_fingerprint}",
        highlight=False,
        soft_wrap=True,
    )
