"""``audit-portal coverage``: rebuild the coverage rollup, or check it against the evidence."""

from __future__ import annotations

import typer

from audit_portal.console import console, fail, settings_or_exit

app = typer.Typer(help="The coverage rollup behind every coverage figure.", no_args_is_help=True)


@app.command()
def rebuild() -> None:
    """Compute the rollup again from every evidence link (after a restore, a bulk load by SQL, or
    to repair it); the figures read it as soon as this commits."""
    from audit_portal.coverage import rollup
    from audit_portal.db import make_engine, unit_of_work

    settings = settings_or_exit()
    with unit_of_work(make_engine(settings.database_url)) as session:
        cells = rollup.rebuild(session)
    console.print(f"Coverage rollup rebuilt: {cells} cells.", highlight=False)


@app.command()
def check() -> None:
    """Compare today's coverage of every framework (controls and clauses) from the rollup with the
    same computed from the evidence itself; exits 1 on any difference."""
    from audit_portal.clock import utcnow
    from audit_portal.coverage import repository, service
    from audit_portal.db import make_engine, unit_of_work

    settings = settings_or_exit()
    today = utcnow().date()
    differences = []
    with unit_of_work(make_engine(settings.database_url)) as session:
        for framework_key in repository.framework_keys(session):
            for kind in service.PARTS:
                reports = [
                    service.coverage_as_of(session, framework_key, as_of=today, kind=kind, from_scratch=from_scratch)
                    for from_scratch in (False, True)
                ]
                if reports[0] != reports[1]:
                    differences.append(f"{framework_key} ({kind})")
    if differences:
        raise fail(
            f"The rollup differs from the evidence for {', '.join(differences)}; run `audit-portal coverage rebuild`."
        )
    console.print("The coverage rollup agrees with the evidence for every framework.", highlight=False)
