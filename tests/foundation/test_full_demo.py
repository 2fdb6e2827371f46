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
                session, framework_key=framework, period_start=engagement.period_start,
                period_end=engagement.period_end, engagement_id=engagement.id, kind=kind,
            )
            seen |= {control.status for control in report.controls}
            # with the requirement library, no applicable control or clause lacks a requirement
            assert [c.ref for c in report.controls if c.status == "no_requirement"] == [], (framework, kind)
    assert seen == set(CONTROL_STATUSES) - {"no_requirement"}

    # the clauses have their own coverage with realistic gaps: the management review is over a year old
    clauses = compute_coverage(
        session, framework_key="iso27001-2022", period_start=engagement.period_start,
        period_end=engagement.period_end, engagement_id=engagement.id, kind="clauses",
    )
    by_ref = {c.ref: c for c in clauses.controls}
    assert by_ref["C.9.3"].status == "missing"
    assert by_ref["C.10.2"].status == "stale"
    assert by_ref["C.6.1.3"].status == "covered"  # the SoA export is kept as evidence of 6.1.3 d
    assert 0 < clauses.covered < clauses.applicable
    # switched-off requirements carry their reason
    off = [o for c in compute_coverage(
        session, framework_key="iso27001-2022", period_start=engagement.period_start,
        period_end=engagement.period_end, engagement_id=engagement.id,
    ).controls for o in c.switched_off]
    assert off and all("Annex 2" in o.reason for o in off)
