"""``audit-portal backup`` and ``audit-portal restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from audit_portal.console import console, err_console, fail, settings_or_exit
from audit_portal.templating import format_size


def backup_command(
    output: Annotated[Path, typer.Argument(help="a new folder to write the backup into")],
) -> None:
    """Back up the portal: a consistent database dump (SQLite online backup or pg_dump), the
    keys from the data directory, and a manifest of the store's objects with their hashes.
    The objects themselves stay in the store."""
    from audit_portal.backup import service
    from audit_portal.db import make_engine
    from audit_portal.store import build_store
    from evidence_store import StoreError

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        summary = service.backup(settings, engine, build_store(settings), output)
    except (service.BackupError, StoreError, ValueError) as error:
        raise fail(str(error))
    finally:
        engine.dispose()
    console.print(
        f"backup written to {summary.folder}: {summary.database_kind} database "
        f"({format_size(summary.database_bytes)}), {len(summary.data_files)} key files, "
        f"{summary.objects} store objects listed ({format_size(summary.object_bytes)})",
        highlight=False,
        soft_wrap=True,
    )


def restore_command(
    backup: Annotated[Path, typer.Argument(help="the backup folder")],
    rehash: Annotated[bool, typer.Option("--rehash", help="read every store object and compare its SHA-256")] = False,
    ignore_missing_objects: Annotated[
        bool, typer.Option("--ignore-missing-objects", help="restore even when the store lacks listed objects")
    ] = False,
    replace_keys: Annotated[
        bool, typer.Option("--replace-keys", help="overwrite other keys already in the data directory")
    ] = False,
) -> None:
    """Restore a backup into an empty database and data directory, after checking the backup's
    hashes and that the store still holds every object it lists. A refused restore changes
    nothing."""
    from audit_portal.backup import service
    from audit_portal.config import SettingsError, load_settings
    from audit_portal.db import make_engine
    from audit_portal.store import build_store
    from evidence_store import StoreError

    try:
        # Not settings_or_exit: that would generate a new secret key into the data directory,
        # and the restored one must take its place.
        settings = load_settings()
    except SettingsError as error:
        raise fail(str(error), 2)
    engine = make_engine(settings.database_url)
    try:
        summary = service.restore(
            settings,
            engine,
            build_store(settings),
            backup,
            rehash=rehash,
            ignore_missing_objects=ignore_missing_objects,
            replace_data_files=replace_keys,
        )
    except (service.BackupError, StoreError, ValueError) as error:
        raise fail(str(error))
    finally:
        engine.dispose()
    for key in summary.missing:
        err_console.print(f"[yellow]missing[/yellow] {key}", highlight=False)
    for key in summary.changed:
        err_console.print(f"[yellow]changed[/yellow] {key}", highlight=False)
    console.print(
        f"restored the {summary.database_kind} database at revision {', '.join(summary.revisions)} and "
        f"{len(summary.data_files)} key files; {summary.objects_checked} store objects checked"
        f"{' by content' if rehash else ''}, {len(summary.missing)} missing, {len(summary.changed)} changed",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "run 'audit-portal migrate' before starting a newer version of the portal", highlight=False, soft_wrap=True
    )
