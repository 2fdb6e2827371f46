"""``audit-portal catalogue``: load frameworks from files into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from audit_portal.catalogue.schema import CatalogueFormatError
from audit_portal.console import console, fail, settings_or_exit

app = typer.Typer(help="Control catalogues: ISO 27001 editions, Annex 2 measures, your own.", no_args_is_help=True)


@app.command("load")
def load(
    files: Annotated[
        list[Path] | None, typer.Argument(help="catalogue files (YAML); the built-in ones are always loaded")
    ] = None,
) -> None:
    """Load or update frameworks. Loading an unchanged file changes nothing; a malformed file is
    refused with its location and nothing is written."""
    from audit_portal.catalogue.service import load_catalogue
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.soa.service import ensure_defaults

    settings = settings_or_exit()
    try:
        with unit_of_work(make_engine(settings.database_url)) as session:
            results = load_catalogue(session, files or [])
            # A control new in the catalogue gets its proposed SoA entry at once; entries an
            # admin has decided are never touched.
            soa_created = ensure_defaults(session)
    except CatalogueFormatError as error:
        raise fail(str(error), 2)
    for result in results:
        counts = ", ".join(f"{value} {name}" for name, value in result.counts.items())
        console.print(f"{result.key:16} {result.status:9} {result.source}  {counts}", highlight=False)
    if soa_created:
        applicable = sum(1 for entry in soa_created if entry.applicable)
        console.print(
            f"statement of applicability: {len(soa_created)} new entries "
            f"({applicable} applicable, {len(soa_created) - applicable} excluded for review)",
            highlight=False,
            soft_wrap=True,
        )
