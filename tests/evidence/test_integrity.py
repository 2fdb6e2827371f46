"""Integrity through the pages and the services: a damaged object is found on read, marked
corrupted (audit event), shown as such on its page, the dashboard and its control's page, never
served, refused by the package export, found by the scrub, and repaired by an upload."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.errors import Conflict
from audit_portal.evidence import service
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor

CSV = b"host,patched\nweb-1,yes\nweb-2,yes\n" * 20


def add(session, store, content: bytes = CSV) -> Evidence:  # type: ignore[no-untyped-def]
    evidence = service.ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename="patches.csv",
        meta=EvidenceMeta(title="Patch status", controls=["iso27001-2022:8.8"]),
        source=EvidenceSource(kind="upload"),
        max_bytes=10_000_000,
        retention_years=1,
    )
    session.commit()
    return evidence


def damage(store, evidence: Evidence) -> None:  # type: ignore[no-untyped-def]
    store._entries[evidence.store_key].data = CSV.replace(b"yes", b"no!", 1)


def corrupted_events(session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "evidence.corrupted")))


def test_a_damaged_object_is_shown_as_corrupted_everywhere_and_never_served(login_as, session, catalogue, store):
    evidence = add(session, store)
    other = add(session, store, b"unrelated,evidence\n1,2\n")
    damage(store, evidence)
    it = login_as("it")

    page = it.get(f"/evidence/{evidence.id}")
    assert page.status_code == 200
    assert 'data-integrity="corrupted"' in page.text and "This item is corrupted" in page.text
    assert "web-1" not in page.text  # the damaged content is not previewed
    session.refresh(evidence)
    assert evidence.integrity == "corrupted" and corrupted_events(session) == [str(evidence.id)]

    download = it.get(f"/evidence/{evidence.id}/download")
    assert download.status_code == 500 and "is corrupted" in download.text
    assert 'data-integrity="corrupted"' in it.get("/").text
    control = it.get("/catalogue/iso27001-2022/8.8")
    assert 'data-integrity="corrupted"' in control.text and f"/evidence/{evidence.id}" in control.text
    assert 'data-integrity="corrupted"' not in it.get(f"/evidence/{other.id}").text
    assert it.get(f"/evidence/{other.id}/download").content == b"unrelated,evidence\n1,2\n"


def test_the_scrub_marks_and_an_upload_of_the_bytes_repairs(session, catalogue, store):
    evidence = add(session, store)
    assert service.verify(session, store).problems == []
    damage(store, evidence)

    report = service.verify(session, store)
    assert [(p.problem, p.evidence_ids) for p in report.problems] == [("corrupted", [evidence.id])]
    assert service.verify(session, store, sample=5).problems[0].evidence_ids == []  # marked once
    assert corrupted_events(session) == [str(evidence.id)]

    again = add(session, store)  # the collector pushes the same bytes
    session.refresh(evidence)
    assert evidence.integrity == "ok" and again.integrity == "ok"
    assert store.open(evidence.store_key).read() == CSV
    assert service.verify(session, store).problems == []
    repaired = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "evidence.repaired")).all()
    assert repaired == [str(evidence.id)]


def test_the_export_refuses_a_package_with_corrupted_evidence(session, settings, store, make_user):
    from datetime import UTC, date, datetime

    from audit_portal.catalogue.service import load_catalogue
    from audit_portal.clock import utcnow
    from audit_portal.engagements.models import Engagement
    from audit_portal.export import service as export_service

    load_catalogue(session)
    evidence = service.ingest(
        session,
        store,
        stream=io.BytesIO(CSV),
        filename="patches.csv",
        meta=EvidenceMeta(
            title="Patch status", requirements=["OPS-2/patches"], collected_at=datetime(2026, 3, 1, 12, tzinfo=UTC)
        ),
        source=EvidenceSource(kind="upload"),
        max_bytes=10_000_000,
        retention_years=1,
    )
    engagement = Engagement(
        name="Audit",
        framework_key="iso27001-2022",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        created_at=utcnow(),
    )
    session.add(engagement)
    session.flush()
    service.mark_corrupted(session, evidence.sha256, reason="test")
    with pytest.raises(Conflict, match=f"evidence {evidence.id} is corrupted"):
        export_service.export(session, settings, actor=Actor.system("test"), engagement_id=engagement.id)
