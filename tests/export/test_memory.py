"""Exporting streams: Python allocations stay far below the size of the evidence exported."""
from __future__ import annotations

import hashlib
import tracemalloc
from datetime import UTC, datetime

from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.evidence.service import ingest
from audit_portal.export.package import archive_stream
from evidence_store import LocalStore
from tests.export.conftest import PERIOD_END, PERIOD_START, make_package

FILES = 8
FILE_SIZE = 8 * 1024 * 1024  # 64 MiB of evidence in all


class GeneratedLog:
    """A large text file produced as it is read, so the test itself holds none of it."""

    def __init__(self, seed: int, size: int) -> None:
        self._line = f"host-{seed:03d} apt: upgraded openssl to 3.0.{seed} ok\n".encode()
        self._left = size

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        repeats = wanted // len(self._line) + 1
        chunk = (self._line * repeats)[:wanted]
        self._left -= len(chunk)
        return chunk


def test_exporting_64_mib_allocates_a_small_fraction_of_it(session, settings, make_user, tmp_path):
    load_catalogue(session)
    engagement = Engagement(name="Big", framework_key="iso27001-2022", period_start=PERIOD_START,
                            period_end=PERIOD_END, created_at=utcnow())
    session.add(engagement)
    session.flush()
    store = LocalStore(tmp_path / "objects")
    uploader = make_user("it")
    for seed in range(FILES):
        ingest(
            session, store, stream=GeneratedLog(seed, FILE_SIZE), filename=f"apt-{seed}.log",
            meta=EvidenceMeta(title=f"apt log {seed}", collected_at=datetime(2026, 2, 1 + seed, tzinfo=UTC),
                              requirements=["OPS-2/patches"]),
            source=EvidenceSource.upload(uploader.id), max_bytes=FILE_SIZE, retention_years=1,
        )
    package = make_package(session, settings, engagement)
    exported = sum(f.size for f in package.contents.files if f.path.endswith(".log"))
    assert exported >= FILES * FILE_SIZE  # more when a requirement maps to several controls

    digest = hashlib.sha256()
    streamed = 0
    tracemalloc.start()
    try:
        for chunk in archive_stream(package, store):
            digest.update(chunk)
            streamed += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert streamed > exported
    assert peak < exported / 16, f"peak Python allocations {peak} bytes while streaming {exported} bytes"
