"""An engagement with evidence of every kind the package must handle, ingested through the
evidence service into the test's store."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial

import pytest
from sqlmodel import Session

from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.engagements.models import Engagement, EngagementAuditor, EvidenceReview
from audit_portal.evidence.models import Evidence
from audit_portal.export.package import Package, Signer, archive_stream, build_package
from audit_portal.export.service import contents_of
from audit_portal.export.signing import signing_key
from audit_portal.findings.models import Finding, FindingTransition
from evidence_store import ObjectStore
from tests import factories

PERIOD_START = date(2026, 1, 1)
PERIOD_END = date(2026, 12, 31)


@dataclass
class Seeded:
    engagement: Engagement
    patches_v1: Evidence
    patches_v2: Evidence
    advisories: Evidence
    direct: Evidence
    via_measure: Evidence
    outside: Evidence
    finding: Finding
    contents: dict[int, bytes]


@pytest.fixture
def seeded(session: Session, store: ObjectStore, make_user) -> Seeded:  # type: ignore[no-untyped-def]
    factories.load_catalogue(session)
    uploader = make_user("it")
    engagement = Engagement(
        name="Surveillance audit 2026",
        framework_key="iso27001-2022",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        created_at=utcnow(),
    )
    session.add(engagement)
    session.flush()

    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 12, tzinfo=UTC)

    bodies = {
        "patches_v1": b"apt upgrade report, first version\n",
        "patches_v2": b"apt upgrade report, corrected\n",
        "advisories": b"NCSC advisories reviewed: 14\n",
        "direct": b"access rights review for 5.15\n",
        "via_measure": b"hardening baseline\n",
        "outside": b"before the period\n",
    }
    upload = partial(factories.add_evidence, session, store, uploaded_by=uploader.id)
    patches_v1 = upload(
        content=bodies["patches_v1"], filename="patches.txt", collected_at=at(3, 1), requirements=["OPS-2/patches"]
    )
    patches_v2 = upload(
        content=bodies["patches_v2"], filename="patches.txt", collected_at=at(3, 2), supersedes=patches_v1.id
    )
    advisories = upload(
        content=bodies["advisories"],
        filename="advisories report.txt",
        collected_at=at(4, 1),
        requirements=["ORG-2/advisories"],
    )
    direct = upload(
        content=bodies["direct"], filename="access-review.txt", collected_at=at(5, 1), controls=["iso27001-2022:5.15"]
    )
    via_measure = upload(
        content=bodies["via_measure"], filename="baseline.txt", collected_at=at(6, 1), controls=["OPS-4"]
    )
    outside = upload(
        content=bodies["outside"],
        filename="old.txt",
        collected_at=datetime(2025, 12, 1, 12, tzinfo=UTC),
        requirements=["OPS-2/patches"],
    )
    session.add(
        EvidenceReview(
            engagement_id=engagement.id,
            evidence_id=advisories.id,
            status="rejected",
            comment="wrong quarter",
            reviewed_at=utcnow(),
        )
    )
    finding = Finding(
        source="auditor",
        title="Patch evidence incomplete",
        severity="medium",
        category="minor_nc",
        engagement_id=engagement.id,
        created_at=utcnow(),
        created_by="auditor",
    )
    session.add(finding)
    session.flush()
    session.add(
        FindingTransition(
            finding_id=finding.id,
            at=finding.created_at,
            actor="auditor",
            actor_role="auditor",
            to_status="open",
            note="Recorded.",
        )
    )
    session.flush()
    items = {
        "patches_v1": patches_v1,
        "patches_v2": patches_v2,
        "advisories": advisories,
        "direct": direct,
        "via_measure": via_measure,
        "outside": outside,
    }
    return Seeded(
        engagement,
        patches_v1,
        patches_v2,
        advisories,
        direct,
        via_measure,
        outside,
        finding,
        {items[name].id: body for name, body in bodies.items()},
    )


def assign(session: Session, engagement: Engagement, user_id: int) -> None:
    session.add(EngagementAuditor(engagement_id=engagement.id, user_id=user_id))
    session.flush()


def make_package(session: Session, settings: Settings, engagement: Engagement) -> Package:
    return build_package(
        contents_of(session, engagement),
        Signer(key=signing_key(settings), generated_by="tester", portal_url=settings.base_url),
    )


def package_bytes(package: Package, store: ObjectStore) -> bytes:
    return b"".join(archive_stream(package, store))


def write_package(session: Session, settings: Settings, store: ObjectStore, engagement: Engagement, path) -> Package:  # type: ignore[no-untyped-def]
    package = make_package(session, settings, engagement)
    path.write_bytes(package_bytes(package, store))
    return package


def rewrite_zip(
    source,
    target,
    *,
    replace: dict[str, bytes] | None = None,
    drop: set[str] = frozenset(),
    add: dict[str, bytes] | None = None,
) -> None:  # type: ignore[no-untyped-def]
    """A copy of an archive with entries replaced, dropped or added: what tampering looks like."""
    replace = replace or {}
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            if info.filename in drop:
                continue
            copy.writestr(info.filename, replace.get(info.filename, original.read(info.filename)))
        for name, content in (add or {}).items():
            copy.writestr(name, content)
