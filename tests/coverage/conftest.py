from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from audit_portal.catalogue.models import Control, Requirement, RequirementSwitchOff
from audit_portal.catalogue.service import load_catalogue
from audit_portal.evidence.models import Evidence, EvidenceRequirement


@pytest.fixture
def catalogue(session):
    load_catalogue(session)
    return session


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


class EvidenceFactory:
    def __init__(self, session) -> None:
        self.session = session
        self.requirements = {r.key: r for r in session.scalars(select(Requirement))}

    def __call__(self, requirement_key: str, collected: date, **fields) -> Evidence:
        evidence = Evidence(
            title=f"{requirement_key} evidence {collected}",
            source_kind=fields.pop("source_kind", "upload"),
            collected_at=at(collected),
            original_filename="proof.txt",
            content_type="text/plain",
            size=10,
            sha256="0" * 64,
            store_key="sha256/00/00/" + "0" * 64,
            created_at=at(collected),
            **fields,
        )
        self.session.add(evidence)
        self.session.flush()
        self.session.add(
            EvidenceRequirement(evidence_id=evidence.id, requirement_id=self.requirements[requirement_key].id)
        )
        self.session.flush()
        return evidence


@pytest.fixture
def add_evidence(catalogue) -> EvidenceFactory:
    return EvidenceFactory(catalogue)


def control_id(session, framework: str, ref: str) -> int:
    return session.scalars(select(Control.id).where(Control.framework_key == framework, Control.ref == ref)).one()


def switch_off_library(session, reason: str = "proven through the Annex 2 measures in this test") -> int:
    """Switch off every library requirement (ISO controls and clauses), leaving the measures'."""
    library = session.scalars(
        select(Requirement.id)
        .join(Control, Control.id == Requirement.control_id)
        .where(Control.framework_key.in_(("iso27001-2022", "iso27001-2013")))
    ).all()
    for requirement_id in library:
        session.add(
            RequirementSwitchOff(
                requirement_id=requirement_id,
                reason=reason,
                switched_off_by="test",
                switched_off_at=at(date(2026, 1, 1)),
            )
        )
    session.flush()
    return len(library)
