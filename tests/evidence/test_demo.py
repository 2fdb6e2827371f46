"""The evidence demo step: realistic manual proofs with the gaps the coverage rules must show."""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console
from sqlalchemy import select

from audit_portal.catalogue.models import Requirement
from audit_portal.clock import utcnow
from audit_portal.demo import DemoContext
from audit_portal.evidence import repository, service
from audit_portal.evidence.demo import load_evidence_demo, minimal_pdf
from audit_portal.evidence.models import Evidence


def test_demo_uploads_manual_proofs_with_a_stale_and_a_missing_requirement(session, store, settings, make_user):
    it = make_user("it", username="it.ops")
    context = DemoContext(
        session=session, store=store, settings=settings, now=utcnow(), console=Console(file=io.StringIO())
    )
    load_evidence_demo(context)
    items = session.scalars(select(Evidence)).all()
    assert items and all(e.uploaded_by_id == it.id for e in items)
    assert all(store.exists(e.store_key) for e in items)

    links = service.requirement_links(session, [e.id for e in items])
    newest: dict[str, Evidence] = {}
    for evidence in items:
        for requirement in links[evidence.id]:
            if requirement.key not in newest or evidence.collected_at > newest[requirement.key].collected_at:
                newest[requirement.key] = evidence
    awareness = session.scalars(select(Requirement).where(Requirement.key == "HR-3/awareness")).one()
    age = context.now - newest["HR-3/awareness"].collected_at
    assert age > timedelta(days=awareness.frequency_days + awareness.grace_days)
    manual = set(session.scalars(select(Requirement.key).where(Requirement.collector == "manual")))
    assert "CMP-1/compliance-review" in manual - set(newest)

    superseded = [e for e in items if e.superseded_at is not None]
    assert len(superseded) == 1
    assert {e.content_type for e in items} >= {"application/pdf", "text/csv", "text/plain"}
    certificates = [e for e in items if e.valid_until is not None]
    assert certificates and any(e.valid_until < (context.now + timedelta(days=60)).date() for e in certificates)


def test_minimal_pdf_has_a_correct_cross_reference_table():
    pdf = minimal_pdf("Title (draft)", ["line one"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[startxref:].startswith(b"xref")
    offsets = [int(line[:10]) for line in pdf[startxref:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
