from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from audit_portal.catalogue.models import Control, Requirement
from audit_portal.evidence.models import Evidence, EvidenceRequirement
from tests.factories import at


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
