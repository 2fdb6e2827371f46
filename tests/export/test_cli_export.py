"""``audit-portal package export``: from the shell, against a database and store of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from audit_portal import migrate
from audit_portal.audit.models import AuditEvent
from audit_portal.catalogue.service import load_catalogue
from audit_portal.cli import app as cli
from audit_portal.clock import utcnow
from audit_portal.config import load_settings
from audit_portal.db import make_engine, unit_of_work
from audit_portal.engagements.models import Engagement
from audit_portal.export.signing import signing_key
from audit_portal.export.verify import verify_package
from evidence_store import LocalStore
from tests import factories
from tests.export.conftest import PERIOD_END, PERIOD_START


def test_export_writes_a_package_that_verifies_and_records_it(tmp_path, monkeypatch):
    database_url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = LocalStore(tmp_path / "evidence")
    with unit_of_work(engine) as session:
        load_catalogue(session)
        from audit_portal.auth.models import UserAccount

        uploader = UserAccount(
            username="it.one", role="it", password_hash="-", password_changed_at=utcnow(), created_at=utcnow()
        )
        session.add(uploader)
        engagement = Engagement(
            name="CLI export",
            framework_key="iso27001-2022",
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            created_at=utcnow(),
        )
        session.add(engagement)
        session.flush()
        factories.add_evidence(
            session,
            store,
            uploaded_by=uploader.id,
            content=b"patch log\n",
            filename="patches.log",
            collected_at=datetime(2026, 3, 1, tzinfo=UTC),
            requirements=["OPS-2/patches"],
        )
        engagement_id = engagement.id
    monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIT_PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("AUDIT_PORTAL_STORE_URL", (tmp_path / "evidence").as_uri())
    output = tmp_path / "out" / "package.zip"
    output.parent.mkdir()

    result = CliRunner().invoke(cli, ["package", "export", str(engagement_id), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert f"wrote {output}" in result.output
    portal_key = signing_key(load_settings()).public_pem.encode("ascii")  # the key the command signed with
    assert verify_package(output, portal_key).intact
    assert not (tmp_path / "out" / "package.zip.partial").exists()
    with unit_of_work(engine) as session:
        actors = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "engagement.export")).all()
    assert len(actors) == 1 and actors[0].startswith("system:cli:")

    missing = CliRunner().invoke(cli, ["package", "export", "424242", "--output", str(tmp_path / "none.zip")])
    assert missing.exit_code == 1
    assert "There is no engagement 424242" in missing.output
    assert not (tmp_path / "none.zip").exists()
    engine.dispose()
