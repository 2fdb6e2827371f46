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
    engagement = Engagement(
        name="Big", framework_key="iso27001-2022", period_start=PERIOD_START, period_end=PERIOD_END, created_at=utcnow()
    )
    session.add(engagement)
    session.flush()
    store = LocalStore(tmp_path / "objects")
    uploader = make_user("it")
    for seed in range(FILES):
        ingest(
            session,
            store,
            stream=GeneratedLog(seed, FILE_SIZE),
            filename=f"apt-{seed}.log",
            meta=EvidenceMeta(
                title=f"apt log {seed}",
                collected_at=datetime(2026, 2, 1 + seed, tzinfo=UTC),
                requirements=["OPS-2/patches"],
            ),
            source=EvidenceSource.upload(uploader.id),
            max_bytes=FILE_SIZE,
            retention_years=1,
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


def test_the_package_reads_evidence_rows_in_batches_never_all_at_once(session, settings, make_user, tmp_path):
    """Every statement that loads evidence records while the package is built streams them
    (yield_per: a server-side cursor on PostgreSQL), so the rows in memory are one batch whatever
    the count. (Gathering the contents before that counts in the database and loads evidence
    only for coverage's newest items: a few per requirement.)"""
    from sqlalchemy import event

    from audit_portal.evidence.models import Evidence
    from audit_portal.export.package import ROW_BATCH, Signer, build_package
    from audit_portal.export.service import contents_of
    from audit_portal.export.signing import signing_key

    load_catalogue(session)
    engagement = Engagement(
        name="Rows",
        framework_key="iso27001-2022",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        created_at=utcnow(),
    )
    session.add(engagement)
    session.flush()
    store = LocalStore(tmp_path / "objects")
    uploader = make_user("it")
    for seed in range(3):
        ingest(
            session,
            store,
            stream=GeneratedLog(seed, 1000),
            filename=f"apt-{seed}.log",
            meta=EvidenceMeta(
                title=f"apt log {seed}",
                collected_at=datetime(2026, 3, 1 + seed, tzinfo=UTC),
                requirements=["OPS-2/patches"],
            ),
            source=EvidenceSource.upload(uploader.id),
            max_bytes=1000,
            retention_years=1,
        )
    evidence_loads: list[object] = []

    def watch(state) -> None:  # type: ignore[no-untyped-def]
        entities = [d.get("entity") for d in getattr(state.statement, "column_descriptions", [])]
        if state.is_select and Evidence in entities:
            evidence_loads.append(state.execution_options.get("yield_per"))

    contents = contents_of(session, engagement)
    event.listen(session, "do_orm_execute", watch)
    try:
        package = build_package(
            contents, Signer(key=signing_key(settings), generated_by="tester", portal_url=settings.base_url)
        )
    finally:
        event.remove(session, "do_orm_execute", watch)
    assert package.contents.evidence_items == 3
    assert evidence_loads, "building the package loaded no evidence record at all"
    assert set(evidence_loads) == {ROW_BATCH}


def test_the_zip_writer_holds_no_per_member_state(tmp_path):
    """70,000 members (past the 65,535 that need ZIP64 end records): the central directory goes to
    a temporary file as the members pass, so allocations stay far below one record per member,
    and the archive reads back whole with the announced length."""
    import zipfile

    from audit_portal.export.zipwriter import Member, ZipLayout, write_stored_zip

    count = 70_000

    def names():  # type: ignore[no-untyped-def]
        return (f"controls/8.8/{n}-evidence-file-with-a-realistic-name.txt" for n in range(count))

    layout = ZipLayout()
    for name in names():
        layout.add(name, 3)
    target = tmp_path / "many.zip"
    tracemalloc.start()
    try:
        with target.open("wb") as sink:
            for chunk in write_stored_zip(
                (Member(name, 3, (b"abc",)) for name in names()), datetime(2026, 5, 1, tzinfo=UTC), layout.length
            ):
                sink.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Held in memory, the central directory alone would be one record (46 bytes and the name)
    # per member: about 7 MB here. The bound leaves room for the interpreter's own noise.
    fixed_parts_of_the_records = count * 46
    assert peak < fixed_parts_of_the_records, f"peak Python allocations {peak} bytes for {count} members"
    assert target.stat().st_size == layout.length
    with zipfile.ZipFile(target) as archive:
        infos = archive.infolist()
        assert len(infos) == count
        assert archive.read(infos[-1]) == b"abc"
        assert archive.testzip() is None
