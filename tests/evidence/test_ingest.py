"""The ingest service: streaming into the store, dedupe, every bad input refused without a trace,
and the record written only after its object (an orphan, never a record without object)."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from audit_portal.audit.models import AuditEvent
from audit_portal.errors import Conflict, InvalidInput, PayloadTooLarge
from audit_portal.evidence import repository, service
from audit_portal.evidence.models import Evidence, EvidenceControl, EvidenceRequirement
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.portal import service as portal_settings
from evidence_store import MemoryStore, key_for

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
PE = b"MZ\x90\x00\x03" + b"\x00" * 64
SCRIPT = b"#!/bin/sh\nrm -rf /tmp/x\n"


class Chunked:
    """A stream that hands out small pieces, as a network body does."""

    def __init__(self, data: bytes, piece: int = 1000) -> None:
        self._stream = io.BytesIO(data)
        self._piece = piece

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(min(self._piece, size if size > 0 else self._piece))


def do_ingest(
    session: Session, store, content: bytes, *, filename: str = "report.pdf", max_bytes: int = 10_000_000, **meta
):  # type: ignore[no-untyped-def]
    meta.setdefault("title", "Restore test Q1")
    return service.ingest(
        session,
        store,
        stream=Chunked(content),
        filename=filename,
        meta=EvidenceMeta(**meta),
        source=EvidenceSource(kind="upload"),
        max_bytes=max_bytes,
        retention_years=1,
    )


def count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def nothing_changed(session: Session, store: MemoryStore, records_before: int = 0) -> bool:
    return count(session, Evidence) == records_before and list(store.iter_keys()) == []


def test_ingest_stores_the_bytes_and_records_them(session, store, catalogue):
    content = PDF + b"x" * 50_000
    evidence = do_ingest(
        session,
        store,
        content,
        requirements=["BCM-1/restore-test"],
        controls=["iso27001-2022:8.13", "OPS-2"],
        period_from=date(2026, 1, 1),
        period_to=date(2026, 3, 31),
    )
    digest = hashlib.sha256(content).hexdigest()
    assert (evidence.sha256, evidence.size, evidence.store_key) == (digest, len(content), key_for(digest))
    assert evidence.content_type == "application/pdf"
    with store.open(evidence.store_key) as stored:
        assert stored.read() == content
    links = service.requirement_links(session, [evidence.id])[evidence.id]
    assert [r.key for r in links] == ["BCM-1/restore-test"]
    controls = {service.control_name(c) for c in service.control_links(session, [evidence.id])[evidence.id]}
    assert controls == {"iso27001-2022:8.13", "annex2:OPS-2"}
    upload_events = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.upload")).all()
    assert [e.object_id for e in upload_events] == [str(evidence.id)]


def test_content_type_comes_from_the_bytes_not_the_name(session, store, catalogue):
    evidence = do_ingest(session, store, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, filename="looks-like.pdf")
    assert evidence.content_type == "image/png"


def test_same_bytes_twice_give_two_records_sharing_one_object(session, store, catalogue):
    first = do_ingest(session, store, PDF, title="first")
    second = do_ingest(session, store, PDF, title="second")
    assert first.id != second.id
    assert first.store_key == second.store_key
    assert list(store.iter_keys()) == [first.store_key]


def test_empty_file_is_refused(session, store, catalogue):
    with pytest.raises(InvalidInput, match="empty"):
        do_ingest(session, store, b"")
    assert nothing_changed(session, store)


def test_file_over_the_limit_is_refused_while_streaming(session, store, catalogue):
    class NeverEnding:
        """More bytes than any limit: the limit must stop the read, not the end of the stream."""

        def __init__(self) -> None:
            self.handed_out = 0

        def read(self, size: int = -1) -> bytes:
            self.handed_out += size
            return b"a" * size

    stream = NeverEnding()
    with pytest.raises(PayloadTooLarge, match="limit of 100000 bytes"):
        service.ingest(
            session,
            store,
            stream=stream,
            filename="big.txt",
            meta=EvidenceMeta(title="big"),
            source=EvidenceSource(kind="upload"),
            max_bytes=100_000,
            retention_years=1,
        )
    assert stream.handed_out < 100_000 + 5 * 1024 * 1024
    assert nothing_changed(session, store)


@pytest.mark.parametrize("filename", ["../etc/passwd", "reports/q1.pdf", "C:\\evil\\q1.pdf", "..", "C:q1.pdf"])
def test_filename_with_path_parts_is_refused(session, store, catalogue, filename):
    with pytest.raises(InvalidInput, match="path parts"):
        do_ingest(session, store, PDF, filename=filename)
    assert nothing_changed(session, store)


@pytest.mark.parametrize("filename", ["report\x00.pdf", "report\n.pdf", "re\x1bport.pdf", "report\u2028.pdf"])
def test_filename_with_control_characters_is_refused(session, store, catalogue, filename):
    with pytest.raises(InvalidInput, match="control characters"):
        do_ingest(session, store, PDF, filename=filename)
    assert nothing_changed(session, store)


@pytest.mark.parametrize(
    ("content", "filename"),
    [(ELF, "backup-tool"), (PE, "report.pdf"), (SCRIPT, "check.txt"), (b"@echo off\r\n", "run.bat")],
    ids=["elf", "pe", "script", "batch-by-name"],
)
def test_executables_are_refused_before_reaching_the_store(session, store, catalogue, content, filename):
    with pytest.raises(InvalidInput, match="program or script"):
        do_ingest(session, store, content, filename=filename)
    assert nothing_changed(session, store)


def test_an_admin_can_allow_executables(session, store, catalogue):
    portal_settings.set_flag(session, service.ALLOW_EXECUTABLES_SETTING, True)
    evidence = do_ingest(session, store, ELF, filename="agent")
    assert evidence.content_type == "application/x-executable"


def test_unknown_controls_and_requirements_are_named(session, store, catalogue):
    with pytest.raises(InvalidInput) as refused:
        do_ingest(
            session,
            store,
            PDF,
            controls=["iso27001-2022:8.8", "iso27001-2022:9.99", "NOPE-1"],
            requirements=["OPS-2/patches", "OPS-2/unknown"],
        )
    assert "'iso27001-2022:9.99'" in refused.value.detail
    assert "'NOPE-1'" in refused.value.detail
    assert "'OPS-2/unknown'" in refused.value.detail
    assert "8.8'" not in refused.value.detail.replace("9.99", "")
    assert nothing_changed(session, store)


def test_period_ending_before_it_starts_is_refused(session, store, catalogue):
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        do_ingest(session, store, PDF, period_from=date(2026, 3, 1), period_to=date(2026, 2, 1))
    assert nothing_changed(session, store)


def test_database_failure_after_the_object_write_leaves_an_orphan_that_reconcile_removes(
    session, store, catalogue, monkeypatch
):
    def failing_insert(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT INTO evidence", {}, Exception("disk I/O error"))

    monkeypatch.setattr(repository, "add_evidence", failing_insert)
    with pytest.raises(OperationalError):
        do_ingest(session, store, PDF)
    session.rollback()
    monkeypatch.undo()
    orphan_key = key_for(hashlib.sha256(PDF).hexdigest())
    assert store.exists(orphan_key)
    assert count(session, Evidence) == 0

    kept = do_ingest(session, store, b"evidence that stays: " + PDF, filename="kept.txt")
    young = service.reconcile(session, store, remove=True, grace=timedelta(hours=1))
    assert [(o.key, o.removable, o.removed) for o in young.orphans] == [(orphan_key, False, False)]
    assert store.exists(orphan_key)

    later = datetime.now(UTC) + timedelta(hours=2)
    reported = service.reconcile(session, store, remove=False, grace=timedelta(hours=1), now=later)
    assert [(o.key, o.removable, o.removed) for o in reported.orphans] == [(orphan_key, True, False)]
    assert store.exists(orphan_key)

    removed = service.reconcile(session, store, remove=True, grace=timedelta(hours=1), now=later)
    assert [o.key for o in removed.removed] == [orphan_key]
    assert not store.exists(orphan_key)
    assert store.exists(kept.store_key)
    assert removed.missing == []


def test_reconcile_reports_a_record_whose_object_is_missing(session, store, catalogue):
    evidence = do_ingest(session, store, PDF)
    store.delete(evidence.store_key)
    report = service.reconcile(session, store)
    assert report.missing == [(evidence.store_key, [evidence.id])]


def test_orphan_shared_with_a_record_is_never_removed(session, store, catalogue):
    evidence = do_ingest(session, store, PDF)
    report = service.reconcile(
        session, store, remove=True, grace=timedelta(0), now=datetime.now(UTC) + timedelta(days=1)
    )
    assert report.orphans == []
    assert store.exists(evidence.store_key)


def test_correction_supersedes_and_keeps_both(session, store, catalogue):
    old = do_ingest(session, store, PDF, requirements=["BCM-1/restore-test"])
    new = do_ingest(session, store, PDF + b"% corrected\n", supersedes=old.id)
    assert new.supersedes_id == old.id
    assert old.superseded_at is not None
    assert [r.key for r in service.requirement_links(session, [new.id])[new.id]] == ["BCM-1/restore-test"]
    assert store.exists(old.store_key) and store.exists(new.store_key)
    with pytest.raises(Conflict, match=f"superseded by evidence {new.id}"):
        do_ingest(session, store, PDF + b"% again\n", supersedes=old.id)
    chain = service.view(session, old.id)
    assert [e.id for e in chain.newer] == [new.id]


def test_correction_with_links_of_its_own_does_not_copy_the_old_ones(session, store, catalogue):
    old = do_ingest(session, store, PDF, requirements=["BCM-1/restore-test"])
    new = do_ingest(session, store, PDF + b"%2\n", supersedes=old.id, controls=["OPS-2"])
    assert service.requirement_links(session, [new.id])[new.id] == []
    assert count(session, EvidenceRequirement) == 1 and count(session, EvidenceControl) == 1


def test_retention_runs_to_the_cycle_end_plus_the_configured_years(session, store, catalogue):
    collected = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    assert service.retention_until(session, collected, years_after_cycle=1) == date(2030, 5, 4)
    portal_settings.set_value(session, service.CERTIFICATION_CYCLE_END_SETTING, "2027-09-30")
    assert service.retention_until(session, collected, years_after_cycle=2) == date(2029, 9, 30)
    evidence = do_ingest(session, store, PDF, collected_at=collected)
    assert evidence.retention_until == date(2028, 9, 30)
