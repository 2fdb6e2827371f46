"""``audit-portal store reconcile`` as an operator runs it, on a real data directory."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from audit_portal import migrate
from audit_portal.db import make_engine, unit_of_work
from audit_portal.evidence import service
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from evidence_store import LocalStore

CLI = Path(sys.executable).with_name("audit-portal")


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_PORTAL_")}
    env.update({"AUDIT_PORTAL_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    return subprocess.run([str(CLI), *args], check=False, env=env, capture_output=True, text=True, timeout=120)


def test_reconcile_reports_then_removes_an_orphan_and_flags_a_missing_object(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = make_engine(f"sqlite:///{data_dir / 'audit-portal.db'}")
    migrate.upgrade(engine)
    store = LocalStore(data_dir / "evidence")
    orphan = store.put(io.BytesIO(b"bytes of an upload whose record never committed"))
    with unit_of_work(engine) as session:
        kept = service.ingest(
            session,
            store,
            stream=io.BytesIO(b"restore test passed"),
            filename="restore.txt",
            meta=EvidenceMeta(title="Restore test", collected_at=datetime(2026, 1, 5, tzinfo=UTC)),
            source=EvidenceSource(kind="upload"),
            max_bytes=1000,
            retention_years=1,
        )
    engine.dispose()

    report = run_cli("store", "reconcile", data_dir=data_dir)
    assert report.returncode == 0, report.stderr
    assert f"orphan  {orphan.key}" in report.stdout and "within the grace period" in report.stdout
    assert store.exists(orphan.key)

    removal = run_cli("store", "reconcile", "--remove", "--grace-hours", "0", data_dir=data_dir)
    assert removal.returncode == 0, removal.stderr
    assert "1 orphans (1 removed)" in removal.stdout
    assert not store.exists(orphan.key) and store.exists(kept.store_key)

    (data_dir / "evidence" / "objects" / kept.store_key).unlink()
    missing = run_cli("store", "reconcile", data_dir=data_dir)
    assert missing.returncode == 1
    assert f"missing {kept.store_key}" in missing.stderr
