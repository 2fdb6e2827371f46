"""The SoA's demo step, and its defaults after ``audit-portal catalogue load``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select
from sqlmodel import Session

from audit_portal.audit.models import AuditEvent
from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.demo import DemoContext, demo_steps
from audit_portal.soa import service
from audit_portal.soa.demo import EXCLUDED, OWNERS, demo_statement_of_applicability
from evidence_store import ObjectStore


def test_the_demo_step_is_listed() -> None:
    assert demo_statement_of_applicability in demo_steps()


def test_the_demo_sets_statuses_and_owners_of_applicable_controls(
    session: Session, store: ObjectStore, settings: Settings
) -> None:
    context = DemoContext(session=session, store=store, settings=settings, now=utcnow(), console=Console(quiet=True))
    demo_statement_of_applicability(context)

    rows = {row.control.ref: row for row in service.soa_rows(session)}
    applicable = [row for row in rows.values() if row.entry and row.entry.applicable]
    statuses = [row.entry.status for row in applicable]  # type: ignore[union-attr]
    assert statuses.count("implemented") > statuses.count("partial") > 0
    assert "not_started" not in statuses
    # The demo's missed firewall review and failed backup check leave these partly implemented.
    assert rows["8.13"].entry.status == "partial"  # type: ignore[union-attr]
    assert rows["8.20"].entry.status == "partial"  # type: ignore[union-attr]
    assert rows["8.5"].entry.status == "implemented"  # type: ignore[union-attr]
    assert all(row.entry.owner == OWNERS[row.control.group_key] for row in applicable)  # type: ignore[union-attr]
    excluded = {ref: row.entry for ref, row in rows.items() if row.entry and not row.entry.applicable}
    assert {ref: entry.justification for ref, entry in excluded.items()} == EXCLUDED  # type: ignore[union-attr]
    # No Annex 2 measure maps to 5.5, yet a hosting company keeps it: applicable, no requirement.
    assert rows["5.5"].entry.applicable and rows["5.5"].entry.status == "implemented"  # type: ignore[union-attr]
    updates = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "soa.update"))
    assert updates == len(rows) == 93


def test_catalogue_load_creates_the_soa_defaults_once(tmp_path: Path) -> None:
    env = {"AUDIT_PORTAL_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    cli = str(Path(sys.executable).with_name("audit-portal"))
    subprocess.run([cli, "migrate"], env=env, check=True, capture_output=True)
    loaded = subprocess.run([cli, "catalogue", "load"], env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    assert "statement of applicability: 93 new entries (42 applicable, 51 excluded for review)" in loaded.stdout
    again = subprocess.run([cli, "catalogue", "load"], env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "statement of applicability" not in again.stdout
