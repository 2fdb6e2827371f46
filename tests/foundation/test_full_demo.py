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
        report = compute_coverage(
            session, framework_key=framework, period_start=engagement.period_start,
            period_end=engagement.period_end, engagement_id=engagement.id,
        )
        seen |= {control.status for control in report.controls}
    assert seen == set(CONTROL_STATUSES)

    # The demo's audit log ends with a signed checkpoint and verifies against it (one demo load
    # serves both checks: it is slow).
    from audit_portal.audit.checkpoints import verify_log

    verified = verify_log(session, store, settings)
    assert verified.ok and len(verified.checkpoints) == 1
    assert verified.checkpoints[0].event_count > 100

