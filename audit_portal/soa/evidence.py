"""The Statement of Applicability as evidence of clause 6.1.3 d: each time the SoA changes, its
CSV export (the same file the download gives) is kept as evidence of the requirement
``C.6.1.3/statement-of-applicability`` (and its 2013 counterpart), so the auditor finds the
version in force on any day of the period."""

from __future__ import annotations

import io

from sqlmodel import Session

from audit_portal import clock
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.evidence import service as evidence
from audit_portal.evidence.models import SOURCE_COLLECTOR, Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor
from audit_portal.soa import export, service

REQUIREMENT_KEYS = ("C.6.1.3/statement-of-applicability", "C.6.1.3/statement-of-applicability-2013")
SOURCE_NAME = "soa-export"  # the source named on exports kept without a person (the demo, the catalogue)


def keep_export(
    session: Session,
    store,
    *,
    max_bytes: int,
    actor: Actor,
) -> Evidence:
    """Store the SoA's current CSV export as evidence of clause 6.1.3 d."""
    principal = actor.principal
    now = clock.utcnow()
    rows = service.soa_rows(session, as_of=now.date())
    content = b"".join(export.csv_chunks(export.export_table(rows)))
    keys = [k for k in REQUIREMENT_KEYS if k in catalogue_repository.requirements_by_key(session, REQUIREMENT_KEYS)]
    if principal.user_id is not None:
        source = EvidenceSource.upload(principal.user_id)
    else:
        source = EvidenceSource(kind=SOURCE_COLLECTOR, collector_instance=SOURCE_NAME)
    meta = EvidenceMeta(
        title=f"Statement of Applicability as of {now:%Y-%m-%d %H:%M} UTC",
        description="Exported by the portal when the Statement of Applicability changed.",
        collected_at=now,
        requirements=keys,
    )
    return evidence.ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename=export.export_filename("csv", now.date()),
        meta=meta,
        source=source,
        max_bytes=max_bytes,
        actor=actor,
    )
