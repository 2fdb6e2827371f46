"""The demo a newcomer sees with `make run`: every coverage status of the design occurs in it."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from audit_portal.coverage.service import CONTROL_STATUSES, compute_coverage
from audit_portal.demo import database_is_empty, load_demo
from audit_portal.engagements.models import Engagement


def test_the_demo_shows_every_coverage_status(session, store, settings):
    assert database_is_empty(session)
    load_demo(session, store, settings, Console(quiet=True))
    assert not database_is_empty(session)

    engagement = session.scalars(select(Engagement)).one()
    seen: set[str] = set()
    for framework in ("iso27001-2022", "annex2"):
        for kind in ("controls", "clauses"):
            report = compute_coverage(
                session,
                framework_key=framework,
                period_start=engagement.period_start,
                period_end=engagement.period_end,
                engagement_id=engagement.id,
                kind=kind,
            )
            seen |= {control.status for control in report.controls}
            if framework == "annex2" and kind == "controls":
                requirements = {r.key: r for control in report.controls for r in control.requirements}
            # with the requirement library, no applicable control or clause lacks a requirement
            assert [c.ref for c in report.controls if c.status == "no_requirement"] == [], (framework, kind)
    assert seen == set(CONTROL_STATUSES) - {"no_requirement"}

    # the clauses have their own coverage with realistic gaps: the management review is over a year old
    clauses = compute_coverage(
        session,
        framework_key="iso27001-2022",
        period_start=engagement.period_start,
        period_end=engagement.period_end,
        engagement_id=engagement.id,
        kind="clauses",
    )
    by_ref = {c.ref: c for c in clauses.controls}
    assert by_ref["C.9.3"].status == "missing"
    assert by_ref["C.10.2"].status == "stale"
    assert by_ref["C.6.1.3"].status == "covered"  # the SoA export is kept as evidence of 6.1.3 d
    assert 0 < clauses.covered < clauses.applicable
    # switched-off requirements carry their reason
    off = [
        o
        for c in compute_coverage(
            session,
            framework_key="iso27001-2022",
            period_start=engagement.period_start,
            period_end=engagement.period_end,
            engagement_id=engagement.id,
        ).controls
        for o in c.switched_off
    ]
    assert off and all("Annex 2" in o.reason for o in off)
    # the collectors of part 2 meet their requirements in the demo, with their replayed history
    for key in (
        "CRY-3/tls",
        "ACC-2/accounts",
        "ACC-3/accounts",
        "ACC-4/password-policy",
        "OPS-4/hardening",
        "BCM-1/backup",
    ):
        assert requirements[key].status == "met", requirements[key].reason

    # The demo's audit log ends with a signed checkpoint and verifies against it (one demo load
    # serves both checks: it is slow).
    from audit_portal.audit.checkpoints import verify_log

    verified = verify_log(session, store, settings)
    assert verified.ok and len(verified.checkpoints) == 1
    assert verified.checkpoints[0].event_count > 100

    # Every Annex 2 measure whose requirement names an installed collector shows that
    # collector's replayed history: the demo's automated measures.
    from audit_portal.catalogue.models import Control, Requirement
    from audit_portal.evidence.models import Evidence, EvidenceRequirement
    from collectors import registry

    installed = set(registry.discover())
    named = session.execute(
        select(Control.ref, Requirement.collector)
        .join(Requirement, Requirement.control_id == Control.id)
        .where(Control.framework_key == "annex2", Requirement.collector != "manual")
    ).all()
    expected = {ref for ref, collector in named if collector in installed}
    automated = set(
        session.scalars(
            select(Control.ref)
            .join(Requirement, Requirement.control_id == Control.id)
            .join(EvidenceRequirement, EvidenceRequirement.requirement_id == Requirement.id)
            .join(Evidence, Evidence.id == EvidenceRequirement.evidence_id)
            .where(Control.framework_key == "annex2", Evidence.collector_run_id.is_not(None))
        ).all()
    )
    assert automated == expected
    assert {"CRY-2", "OPS-1", "OPS-3", "ORG-2"} <= automated
