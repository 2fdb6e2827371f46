"""Test data for the suites, made through the portal's own services and repositories. Plain
functions: each folder's fixtures call them with the keywords that make its data differ."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlmodel import Session

from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.library import LIBRARY_FRAMEWORKS
from audit_portal.catalogue.models import RequirementSwitchOff
from audit_portal.catalogue.service import load_catalogue as load_builtin_catalogue
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.evidence.service import ingest
from audit_portal.soa.service import ensure_defaults
from evidence_store import ObjectStore

LIBRARY_SWITCH_OFF_REASON = "proven through the Annex 2 measures in this test"
MAX_UPLOAD_BYTES = 64 * 1024**2


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def load_catalogue(
    session: Session, *, soa_defaults: bool = False, library: bool = True, commit: bool = False
) -> Session:
    """The built-in catalogue; with ``soa_defaults`` its default Statement of Applicability, and
    with ``library=False`` the ISO library requirements switched off, as in the demo, so that
    the Annex 2 measures alone prove the controls.

    ``commit`` suits tests whose requests fail on purpose: the app's session rolls back to the
    last commit, which must not take the catalogue with it."""
    load_builtin_catalogue(session)
    if soa_defaults:
        ensure_defaults(session)
    if not library:
        switch_off_library(session)
    if commit:
        session.commit()
    return session


def switch_off_library(session: Session, reason: str = LIBRARY_SWITCH_OFF_REASON) -> int:
    """Switch off every library requirement (ISO controls and clauses), leaving the measures'.

    Rows rather than the library service: the service records an audit event per requirement,
    which would crowd the audit log that the tests read."""
    requirements = [
        requirement
        for framework_key in LIBRARY_FRAMEWORKS
        for requirement in catalogue_repository.requirements_of_framework(session, framework_key)
    ]
    session.add_all(
        RequirementSwitchOff(
            requirement_id=requirement.id,
            reason=reason,
            switched_off_by="test",
            switched_off_at=at(date(2026, 1, 1)),
        )
        for requirement in requirements
    )
    session.flush()
    return len(requirements)


def add_evidence(
    session: Session,
    store: ObjectStore,
    *,
    uploaded_by: int,
    content: bytes,
    collected_at: datetime,
    filename: str = "proof.txt",
    title: str | None = None,
    requirements: Sequence[str] = (),
    controls: Sequence[str] = (),
    supersedes: int | None = None,
) -> Evidence:
    """One item uploaded through the evidence service: its bytes in ``store``, its links
    resolved and its upload in the audit log, as a user's upload would be."""
    meta = EvidenceMeta(
        title=title or f"{filename} {collected_at.date()}",
        collected_at=collected_at,
        requirements=list(requirements),
        controls=list(controls),
        supersedes=supersedes,
    )
    return ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename=filename,
        meta=meta,
        source=EvidenceSource.upload(uploaded_by),
        max_bytes=MAX_UPLOAD_BYTES,
        retention_years=1,
    )


def add_evidence_row(
    session: Session, requirement_key: str, collected: date, hour: int = 12, **columns: object
) -> Evidence:
    """An evidence row for one requirement, collected at ``hour`` (noon) of ``collected``, with no bytes in
    any store: for the coverage arithmetic, which reads rows only. Unlike an upload it takes any
    column (a collector run that does not exist, a collection time later today) and writes
    no audit event, so hundreds of items stay cheap."""
    requirement = catalogue_repository.requirements_by_key(session, [requirement_key])[requirement_key]
    evidence = Evidence(
        title=f"{requirement_key} evidence {collected}",
        source_kind="upload",
        collected_at=at(collected, hour),
        original_filename="proof.txt",
        content_type="text/plain",
        size=10,
        sha256="0" * 64,
        store_key="sha256/00/00/" + "0" * 64,
        created_at=at(collected, hour),
        **columns,
    )
    assert requirement.id is not None
    return evidence_repository.add_evidence(session, evidence, requirement_ids=[requirement.id], control_ids=())
