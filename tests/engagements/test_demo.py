"""The demo step: the surveillance audit part-way through, on top of the earlier demo steps."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from audit_portal.clock import utcnow
from audit_portal.demo import DemoContext
from audit_portal.engagements.demo import ENGAGEMENT_NAME, demo_engagement
from audit_portal.engagements.models import Engagement, EvidenceReview
from audit_portal.findings.models import Finding
from audit_portal.principals import Principal
from audit_portal.requests import service as requests


def test_the_demo_engagement(session, store, settings, login_as):
    from audit_portal.auth.demo import add_demo_users
    from audit_portal.auth.repository import user_by_username
    from audit_portal.evidence.demo import load_evidence_demo
    from audit_portal.soa.demo import demo_statement_of_applicability

    context = DemoContext(session=session, store=store, settings=settings, now=utcnow(), console=Console(quiet=True))
    for step in (
        add_demo_users,
        load_evidence_demo,
        demo_statement_of_applicability,
        demo_engagement,
    ):
        step(context)
        session.flush()

    engagement = session.scalars(select(Engagement).where(Engagement.name == ENGAGEMENT_NAME)).one()
    assert engagement.framework_key == "iso27001-2022" and (engagement.period_end - engagement.period_start).days == 365
    reviews = session.scalars(select(EvidenceReview).where(EvidenceReview.engagement_id == engagement.id)).all()
    assert sorted(r.status for r in reviews) == ["accepted"] * 4 + ["rejected"]
    assert next(r for r in reviews if r.status == "rejected").comment

    auditor = user_by_username(session, "auditor.ext")
    principal = Principal(role="auditor", username="auditor.ext", user_id=auditor.id)
    _, queue = requests.queue(session, principal, engagement.id)
    assert sorted((v.request.state, v.overdue) for v in queue) == [
        ("answered", False),
        ("open", True),
    ]

    found = session.scalars(select(Finding).where(Finding.engagement_id == engagement.id)).all()
    assert sorted(f.category for f in found) == ["minor_nc", "observation", "ofi"]
    minor = next(f for f in found if f.category == "minor_nc")
    assert "8.20" in login_as(auditor).get(f"/engagements/{engagement.id}/findings").text and minor.severity == "medium"
    assert login_as(auditor).get(f"/engagements/{engagement.id}/controls").status_code == 200


def test_the_demo_engagement_samples_the_patch_runs_and_raises_the_exception(catalogue, store, settings, make_user):
    """With a year of weekly patch runs, four of them seeing the summer backlog (a high collector
    finding), the demo's sample is tested, its backlog runs are the exceptions, and a finding is
    raised from them."""
    from audit_portal.auth.demo import add_demo_users
    from audit_portal.engagements.sample_models import Sample, SampleItem
    from audit_portal.evidence.models import Evidence
    from tests.engagements.test_occurrences import Items

    session = catalogue
    context = DemoContext(session=session, store=store, settings=settings, now=utcnow(), console=Console(quiet=True))
    add_demo_users(context)
    runs = Items(session, make_user("it").id)
    anchors = [max(runs.run(days_ago=days)) for days in range(3, 3 + 7 * 40, 7)]
    backlog = {session.get(Evidence, anchor).collector_run_id: anchor for anchor in anchors[10:14]}
    session.add(
        Finding(
            source="collector",
            key="patches:web1:overdue",
            title="Security updates pending for 9 days on web1",
            severity="high",
            status="closed",
            collector_instance=runs.instance.name,
            first_run_id=min(backlog),
            last_run_id=max(backlog),
            created_at=utcnow(),
        )
    )
    session.flush()

    demo_engagement(context)

    sample = session.scalars(select(Sample)).one()
    assert (sample.method, sample.size, sample.population_size) == ("random", 5, 40)
    assert sample.conclusion == "effective_with_exceptions" and sample.conclusion_note
    tested = session.scalars(select(SampleItem).where(SampleItem.sample_id == sample.id)).all()
    exceptions = [item for item in tested if item.result == "exception"]
    assert exceptions and {item.evidence_id for item in exceptions} <= set(backlog.values())
    assert all(item.result == "effective" for item in tested if item.evidence_id not in backlog.values())
    assert all("Security updates pending for 9 days on web1" in item.note for item in exceptions)
    raised = session.get(Finding, exceptions[0].finding_id)
    assert (raised.category, raised.title) == ("minor_nc", "Exceptions in the sample of OPS-2/patches")
    assert {item.finding_id for item in exceptions} == {raised.id}
