"""``audit-portal package``: export an engagement's evidence package, verify one offline."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from audit_portal.console import console, fail, settings_or_exit
from audit_portal.export import verify as verifier
from audit_portal.principals import Actor

app = typer.Typer(help="Signed evidence packages: export one, verify one offline.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    package: Annotated[Path, typer.Argument(help="the evidence package (.zip)")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="the portal's public key (PEM) as shown in the portal")
    ] = None,
) -> None:
    """Re-hash every file against the signed manifest and check the signature; needs no database.

    Exit status 0 when intact, 1 naming the first file that differs (or the bad signature),
    2 when the file is no evidence package."""
    raise typer.Exit(verifier.run(package, public_key, out=sys.stdout, err=sys.stderr))


@app.command("export")
def export_command(
    engagement_id: Annotated[int, typer.Argument(help="the engagement's id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the ZIP")],
) -> None:
    """Write the signed evidence package of an engagement to a file (recorded in the audit log)."""
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.export import service
    from audit_portal.export.package import archive_stream
    from audit_portal.export.signing import SigningKeyError
    from audit_portal.store import build_store
    from evidence_store import StoreError

    settings = settings_or_exit()
    store = build_store(settings)
    partial = output.with_name(output.name + ".partial")
    try:
        with unit_of_work(make_engine(settings.database_url)) as session:
            package = service.export(
                session, settings, actor=Actor.system(f"cli:{_os_user()}"), engagement_id=engagement_id
            )
            # Written under a temporary name and renamed, so a failed export never leaves a
            # file that looks complete; the audit event commits only when the file is whole.
            with partial.open("wb") as target:
                for chunk in archive_stream(package, store):
                    target.write(chunk)
            partial.replace(output)
            package.close()
    except (PortalError, SigningKeyError, StoreError) as error:
        partial.unlink(missing_ok=True)
        raise fail(str(error))
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise fail(f"{error.filename or output}: {error.strerror}")
    console.print(
        f"wrote {output}: {package.file_count} files, {package.contents.evidence_items} evidence items, "
        f"{output.stat().st_size} bytes; manifest sha256 {package.manifest_sha256}; "
        f"signed with key {package.key_fingerprint}",
        highlight=False,
        soft_wrap=True,
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
