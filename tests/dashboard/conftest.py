"""A seeded organisation with known evidence dates, and coverage computed by hand from the raw
catalogue tables (never through compute_coverage), for the dashboard, trend and report tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from audit_portal.catalogue.models import MAPS_TO, Control, ControlMapping, Requirement, RequirementSwitchOff
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.models import Evidence, EvidenceRequirement
from audit_portal.findings.models import Finding
from audit_portal.requests.models import EvidenceRequest
from audit_portal.soa.models import SoaEntry

EXCLUDED_2022 = "7.4"  # physical security monitoring: excluded in the seeded SoA


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class Seeded:
    today: date
    evidence: dict[str, list[date]]  # requirement key -> collection days
    failing_keys: set[str]  # requirements whose newest evidence carries an open high finding
    expiring_keys: set[str]
    certificate_id: int
    excluded_control_ids: set[int]
    engagement_id: int


class Seeder:
    def __init__(self, session) -> None:
        self.session = session
        self.requirements = {r.key: r for r in session.scalars(select(Requirement))}
        self.evidence: dict[str, list[date]] = {}

    def add(self, key: str, day: date, **fields) -> Evidence:
        item = Evidence(
            title=f"{key} {day}",
            source_kind="upload",
            collected_at=at(day),
            original_filename="proof.txt",
            content_type="text/plain",
            size=10,
            sha256="0" * 64,
            store_key="sha256/00/00/" + "0" * 64,
            created_at=at(day),
            **fields,
        )
        self.session.add(item)
        self.session.flush()
        self.session.add(EvidenceRequirement(evidence_id=item.id, requirement_id=self.requirements[key].id))
        self.session.flush()
        self.evidence.setdefault(key, []).append(day)
        return item

    def fresh(self, key: str, today: date, days_ago: int = 3) -> Evidence:
        return self.add(key, today - timedelta(days=days_ago))

    def expiring(self, key: str, today: date, days_left: int) -> Evidence:
        requirement = self.requirements[key]
        return self.add(key, today - timedelta(days=requirement.frequency_days + requirement.grace_days - days_left))


def seed_organisation(session, today: date) -> Seeded:
    load_catalogue(session)
    seeder = Seeder(session)
    keys_of = lambda measure: [k for k in seeder.requirements if k.startswith(measure + "/")]
    for measure in ("POL-1", "HR-2", "CMP-1", "ORG-1", "PHY-2"):
        for key in keys_of(measure):
            seeder.fresh(key, today)
    seeder.add("OPS-2/patches", today - timedelta(days=20))  # 7 + 2 days: stale since 10 days ago
    seeder.add("OPS-4/hardening", today - timedelta(days=200))  # stale for longer
    failing = seeder.fresh("PHY-3/backup", today, days_ago=0)
    seeder.expiring("HR-3/awareness", today, days_left=5)
    seeder.expiring("CRY-2/disk-encryption", today, days_left=30)
    seeder.expiring("AST-2/data-deletion", today, days_left=31)  # just outside the window
    certificate = seeder.fresh("SUP-2/certificate", today, days_ago=100)
    certificate.valid_until = today + timedelta(days=12)
    seeder.add("INC-1/incident-process", today - timedelta(days=400))  # outside the certification year

    now = utcnow()
    session.add_all(
        [
            Finding(
                source="collector",
                key="backup/failed",
                title="Backup check failed",
                severity="high",
                status="open",
                collector_instance="backup-dc",
                evidence_id=failing.id,
                created_at=now,
            ),
            Finding(
                source="auditor",
                title="Awareness records incomplete",
                severity="medium",
                status="action_planned",
                category="minor_nc",
                due_date=today - timedelta(days=3),
                created_at=now - timedelta(days=20),
            ),
            Finding(
                source="auditor",
                title="Old observation",
                severity="low",
                status="closed",
                created_at=now - timedelta(days=90),
            ),
            Finding(
                source="auditor",
                title="Policy wording",
                severity="low",
                status="open",
                category="ofi",
                due_date=today + timedelta(days=30),
                created_at=now - timedelta(days=2),
            ),
        ]
    )
    excluded = session.scalars(
        select(Control.id).where(Control.framework_key == "iso27001-2022", Control.ref == EXCLUDED_2022)
    ).one()
    session.add(SoaEntry(control_id=excluded, applicable=False, justification="No premises of our own", updated_at=now))

    engagement = Engagement(
        name="Surveillance audit",
        framework_key="iso27001-2022",
        period_start=today - timedelta(days=200),
        period_end=today + timedelta(days=30),
        created_at=now,
    )
    session.add(engagement)
    session.flush()
    from audit_portal.auth.models import UserAccount

    auditor = UserAccount(
        username="seed.auditor", role="auditor", password_hash="x", password_changed_at=now, created_at=now
    )
    session.add(auditor)
    session.flush()
    for question, due, state in (
        ("Show the restore test", today - timedelta(days=2), "open"),
        ("Show the awareness attendance", today + timedelta(days=5), "answered"),
        ("Show the policy", today - timedelta(days=9), "accepted"),
    ):
        session.add(
            EvidenceRequest(
                engagement_id=engagement.id,
                question=question,
                due_date=due,
                state=state,
                created_by=auditor.id,
                created_at=now - timedelta(days=1),
            )
        )

    def instance(name: str, schedule: str, enabled: bool = True) -> CollectorInstance:
        item = CollectorInstance(
            name=name,
            collector="backup",
            config_json="{}",
            schedule=schedule,
            enabled=enabled,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        session.flush()
        return item

    backups = instance("backup-dc", "0 * * * *")  # hourly: its last run is 3 hours old, so late
    patches = instance("patches-linux", "*/5 * * * *")
    instance("firewall-never", "0 3 * * *")  # never ran: late
    instance("firewall-off", "0 3 * * *", enabled=False)  # disabled: never late
    for target, started, status in (
        (backups, now - timedelta(days=10), "failed"),  # outside the 7 days
        (backups, now - timedelta(days=2), "failed"),
        (backups, now - timedelta(hours=3), "timed_out"),
        (patches, now - timedelta(days=1), "failed"),
        (patches, now - timedelta(minutes=2), "ok"),
    ):
        session.add(
            CollectorRun(
                instance_id=target.id,
                instance_name=target.name,
                trigger="schedule",
                started_at=started,
                finished_at=started + timedelta(minutes=1),
                status=status,
            )
        )
    session.flush()
    return Seeded(
        today=today,
        evidence=seeder.evidence,
        failing_keys={"PHY-3/backup"},
        expiring_keys={"HR-3/awareness", "CRY-2/disk-encryption"},
        certificate_id=certificate.id,  # type: ignore[arg-type]
        excluded_control_ids={excluded},
        engagement_id=engagement.id,  # type: ignore[arg-type]
    )


# --- coverage by hand -------------------------------------------------------------------------


def requirement_met(seeded: Seeded, requirement: Requirement, start: date, as_of: date) -> bool:
    days = [d for d in seeded.evidence.get(requirement.key, []) if start <= d <= as_of]
    if not days or requirement.key in seeded.failing_keys:
        return False
    return max(days) + timedelta(days=requirement.frequency_days + requirement.grace_days) >= as_of


def covered_by_hand(
    session, seeded: Seeded, framework: str, *, start: date, as_of: date, needs_signoff_ok: bool = False
):
    """{control_id: (group_key, applicable, covered)} from the raw tables."""
    controls = session.scalars(
        select(Control).where(
            Control.framework_key == framework, Control.retired_at.is_(None), Control.kind == "controls"
        )
    ).all()
    switched_off = set(session.scalars(select(RequirementSwitchOff.requirement_id)))
    requirements = [
        r
        for r in session.scalars(select(Requirement).where(Requirement.retired_at.is_(None)))
        if r.id not in switched_off
    ]
    own: dict[int, list[Requirement]] = {}
    for requirement in requirements:
        own.setdefault(requirement.control_id, []).append(requirement)
    mapped: dict[int, list[int]] = {}
    for mapping in session.scalars(select(ControlMapping).where(ControlMapping.kind == MAPS_TO)):
        mapped.setdefault(mapping.target_id, []).append(mapping.source_id)
    result = {}
    for control in controls:
        proving = list(own.get(control.id, []))
        for source_id in mapped.get(control.id, []):
            proving += own.get(source_id, [])
        applicable = control.id not in seeded.excluded_control_ids
        covered = (
            applicable
            and bool(proving)
            and all(requirement_met(seeded, r, start, as_of) and not r.needs_signoff for r in proving)
        )
        result[control.id] = (control.group_key, applicable, covered)
    return result


@pytest.fixture
def today() -> date:
    return utcnow().date()


@pytest.fixture
def seeded(session, today) -> Seeded:
    return seed_organisation(session, today)
