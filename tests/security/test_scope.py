"""Scope: an auditor sees only their engagements, within their periods, on every page and
partial that renders engagement data (the routes test_matrix.SCOPED names), and the access
window ends at the same instant for sign-in and for every view."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from audit_portal.audit.models import AuditEvent
from audit_portal.auth.models import UserAccount
from audit_portal.catalogue.models import Requirement
from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.engagements import scope
from audit_portal.engagements.models import Engagement, EngagementAuditor, EvidenceReview
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.evidence.service import ingest
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from audit_portal.reports.models import ComplianceReport
from audit_portal.requests.models import EvidenceRequest
from tests.engagements.fixtures import catalogue  # noqa: F401 - the fixture
from tests.security.conftest import post_login
from tests.security.test_matrix import SCOPED

MARK = "Zebra"  # every title, name and log line of the other engagement carries it


@dataclass
class Audit:
    engagement: Engagement
    evidence: list[Evidence]
    run: CollectorRun
    request: EvidenceRequest
    finding: Finding


@dataclass
class TwoAudits:
    mine: Audit
    other: Audit
    auditor: UserAccount  # assigned to ``mine`` only
    instance: CollectorInstance


def _at(days_ago: int) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days_ago), time(12), tzinfo=UTC)


def _audit(
    session: Session,
    store,
    *,
    name: str,
    start: int,
    end: int,
    auditor: UserAccount,  # type: ignore[no-untyped-def]
    uploader: UserAccount,
    instance: CollectorInstance,
    mark: str,
) -> Audit:
    """One engagement over [start, end] days ago with evidence, a run, a request and findings
    inside its period, every text carrying ``mark``."""
    today = utcnow().date()
    engagement = Engagement(
        name=f"{mark} {name} audit",
        framework_key="iso27001-2022",
        period_start=today - timedelta(days=start),
        period_end=today - timedelta(days=end),
        created_at=utcnow(),
        actor=Actor.system("test"),
    )
    session.add(engagement)
    session.flush()
    session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))  # type: ignore[arg-type]
    inside = start - 10
    run = CollectorRun(
        instance_id=instance.id,
        instance_name=instance.name,
        trigger="schedule",  # type: ignore[arg-type]
        started_at=_at(inside),
        finished_at=_at(inside),
        status="failed",
        log=f"{mark} run log",
        error=f"{mark} run error",
    )
    session.add(run)
    session.flush()

    def add(title: str, requirement: str, valid_until: date | None = None) -> Evidence:
        meta = EvidenceMeta(
            title=f"{mark} {title}", collected_at=_at(inside), requirements=[requirement], valid_until=valid_until
        )
        return ingest(
            session,
            store,
            stream=io.BytesIO(f"{mark} {title}".encode()),
            filename="proof.txt",
            meta=meta,
            source=EvidenceSource.upload(uploader.id),
            max_bytes=1_000_000,
            retention_years=1,
        )

    patches = add("patch report", "OPS-2/patches")
    patches.collector_run_id = run.id
    certificate = add("hosting certificate", "SUP-2/certificate", valid_until=today + timedelta(days=10))
    request = EvidenceRequest(
        engagement_id=engagement.id,
        question=f"{mark} show the restore test",  # type: ignore[arg-type]
        requirement_id=session.scalar(select(Requirement.id).where(Requirement.key == "OPS-2/patches")),
        due_date=today - timedelta(days=1),
        created_by=auditor.id,
        created_at=_at(inside),
    )  # type: ignore[arg-type]
    auditor_finding = Finding(
        source="auditor",
        title=f"{mark} access reviews not done",
        severity="high",
        category="major",
        status="open",
        engagement_id=engagement.id,
        due_date=today - timedelta(days=2),
        created_at=_at(inside),
        created_by=auditor.username,
    )
    collector_finding = Finding(
        source="collector",
        key=f"{mark}:tcp/3389",
        title=f"{mark} tcp/3389 open",
        severity="critical",
        status="open",
        collector_instance=instance.name,
        first_run_id=run.id,
        last_run_id=run.id,
        evidence_id=patches.id,
        due_date=today - timedelta(days=2),
        created_at=_at(inside),
    )
    report = ComplianceReport(
        month=(today - timedelta(days=inside)).replace(day=1),
        generated_at=_at(inside),
        generated_by="scheduler",
        pdf_evidence_id=patches.id,  # type: ignore[arg-type]
        xlsx_evidence_id=certificate.id,
    )  # type: ignore[arg-type]
    session.add_all([patches, request, auditor_finding, collector_finding, report])
    session.commit()
    return Audit(engagement, [patches, certificate], run, request, auditor_finding)


@pytest.fixture
def audits(catalogue: Session, store, make_user) -> TwoAudits:  # type: ignore[no-untyped-def]  # noqa: F811
    session = catalogue
    mine_auditor, other_auditor = make_user("auditor"), make_user("auditor")
    uploader = make_user("it")
    instance = CollectorInstance(
        name="edge-firewall",
        collector="firewall",
        config_json="{}",
        schedule="0 3 * * *",
        created_at=_at(500),
        updated_at=_at(500),
    )
    session.add(instance)
    session.flush()
    mine = _audit(
        session,
        store,
        name="mine",
        start=60,
        end=-30,
        auditor=mine_auditor,
        uploader=uploader,
        instance=instance,
        mark="Visible",
    )
    other = _audit(
        session,
        store,
        name="other",
        start=400,
        end=300,
        auditor=other_auditor,
        uploader=uploader,
        instance=instance,
        mark=MARK,
    )
    return TwoAudits(mine, other, mine_auditor, instance)


def _path(template: str, audit: Audit, engagement: Engagement, instance: CollectorInstance) -> str:
    values = {
        "engagement_id": engagement.id,
        "evidence_id": audit.evidence[0].id,
        "evidence_id:int": audit.evidence[0].id,
        "run_id": audit.run.id,
        "name": instance.name,
        "ref": "8.8",
        "request_id": audit.request.id,
        "finding_id": audit.finding.id,
        "sample_id": 999999,
        "item_id": 999999,
        "framework": "iso27001-2022",
        "requirement_id": audit.request.requirement_id,  # OPS-2/patches, which proves 8.8
    }
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), template)


def _leaks(text: str, other: Audit) -> list[str]:
    """What of the other engagement shows in a response: its marked texts, links to or ids of its
    evidence and runs."""
    found = [MARK] if MARK in text else []
    for evidence in other.evidence:
        if re.search(
            rf"/evidence/{evidence.id}(?!\d)|evidence {evidence.id}(?!\d)|\"id\":\s*{evidence.id}(?!\d)", text
        ):
            found.append(f"evidence {evidence.id}")
    if re.search(rf"/runs/{other.run.id}(?!\d)", text):
        found.append(f"run {other.run.id}")
    return found


def _requests_to_walk(audits: TwoAudits) -> list[tuple[str, str]]:
    """Every scoped route, with the other engagement's ids, with the auditor's own engagement and
    the other's objects, and (dashboard lists) with each engagement chosen and none."""
    mine, other, instance = audits.mine, audits.other, audits.instance
    walk = []
    for key in sorted(SCOPED):
        method, template = key.split(" ", 1)
        paths = {_path(template, other, other.engagement, instance), _path(template, other, mine.engagement, instance)}
        if template == "/" or template.startswith("/dashboard/"):
            paths |= {
                template,
                f"{template}?engagement={other.engagement.id}",
                f"{template}?engagement={mine.engagement.id}",
            }
        walk += [(method, path) for path in sorted(paths)]
    return walk


def test_an_auditor_sees_nothing_of_another_engagement_on_any_scoped_route(audits, login_as, session):
    client = login_as(audits.auditor)
    walked = refused = 0
    for method, path in _requests_to_walk(audits):
        data = {"decision": "accept", "comment": "fine"} if method == "POST" else None
        # the page, and the partial htmx asks for at the same URL
        for headers in ({}, {"HX-Request": "true"}) if method == "GET" else ({},):
            response = client.request(method, path, data=data, headers=headers)
            label = f"{method} {path} {headers}"
            assert response.status_code < 500, label
            if response.status_code == 404:
                refused += 1
            elif method == "GET" and not path.endswith((".zip", "/download")):
                assert response.status_code in (200, 303, 422), f"{label}: {response.status_code}"
                assert _leaks(response.text, audits.other) == [], label
            else:
                assert response.status_code in (303, 422) or path.endswith((".zip", "/download")), label
            walked += 1
    assert walked > len(SCOPED) and refused > 0
    # Nothing the auditor posted at the other engagement (or its evidence) was written.
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 0


def test_the_walk_would_see_a_leak(audits, login_as):
    """The same walk as admin (who sees everything) finds the other engagement's data on the
    lists, so the absence above is not an accident of the set-up."""
    admin = login_as("admin")
    leaking = {
        path
        for method, path in _requests_to_walk(audits)
        if method == "GET" and _leaks(admin.get(path).text, audits.other)
    }
    for expected in (
        "/findings",
        "/dashboard/findings",
        "/evidence",
        "/reports",
        "/collectors/edge-firewall",
        f"/runs/{audits.other.run.id}",
        f"/engagements/{audits.other.engagement.id}/requests",
    ):
        assert expected in leaking, expected


def test_an_auditor_sees_their_own_engagement_on_the_same_routes(audits, login_as):
    client = login_as(audits.auditor)
    mine = audits.mine
    assert "Visible patch report" in client.get("/evidence").text
    assert "Visible tcp/3389 open" in client.get("/findings").text
    assert "Visible access reviews not done" in client.get("/dashboard/findings").text
    assert "Visible show the restore test" in client.get("/dashboard/requests").text
    assert f"/runs/{mine.run.id}" in client.get("/collectors/edge-firewall").text
    assert "Visible run log" in client.get(f"/runs/{mine.run.id}").text
    assert f"/evidence/{mine.evidence[0].id}" in client.get("/reports").text
    assert "Visible hosting certificate" in client.get("/dashboard/expiring").text
    landing = client.get("/")
    assert landing.status_code == 200 and "Visible mine audit" in landing.text


def test_a_review_outside_the_engagement_period_is_404_and_writes_nothing(audits, login_as, session):
    client = login_as(audits.auditor)
    events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("evidence.review%"))
    )
    outside = audits.other.evidence[0].id
    response = client.post(
        f"/engagements/{audits.mine.engagement.id}/evidence/{outside}/review", data={"decision": "accept"}
    )
    assert response.status_code == 404
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 0
    assert (
        session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("evidence.review%")))
        == events
    )
    inside = audits.mine.evidence[0].id
    accepted = client.post(
        f"/engagements/{audits.mine.engagement.id}/evidence/{inside}/review", data={"decision": "accept"}
    )
    assert accepted.status_code in (200, 303)
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 1


# --- the access window ends at one instant for sign-in and views ------------------------------


def test_access_ends_at_exactly_valid_until_for_sign_in_and_views(audits, login_as, session, frozen_clock, client):
    auditor = audits.auditor
    auditor.valid_until = frozen_clock.now + timedelta(minutes=1)
    session.commit()
    signed_in = login_as(auditor)
    workspace = f"/engagements/{audits.mine.engagement.id}/controls"

    frozen_clock.now = auditor.valid_until - timedelta(microseconds=1)
    assert scope.access_problem(auditor) is None
    assert signed_in.get(workspace).status_code == 200
    assert [e.id for e in scope.visible_engagements(session, signed_in_principal(auditor))] == [
        audits.mine.engagement.id
    ]

    frozen_clock.now = auditor.valid_until
    assert scope.access_problem(auditor) == "access window ended"
    assert scope.visible_engagements(session, signed_in_principal(auditor)) == []
    # the open session no longer opens the workspace, and a new sign-in is refused
    assert signed_in.get(workspace).status_code in (303, 404)
    assert post_login(client, auditor.username, "plum-harbour-violet-engine-42").status_code == 403


def signed_in_principal(user: UserAccount):  # type: ignore[no-untyped-def]
    from audit_portal.authz import Principal

    return Principal(role=user.role, username=user.username, user_id=user.id)


def test_an_auditor_reads_no_other_audit_firms_events_on_an_evidence_page(audits, login_as, session, make_user):
    """The same item, read by an auditor of another engagement and by IT: the auditor's page lists
    IT's event and their own, never the other auditor's; IT's page lists all three."""
    from audit_portal.audit.service import record_event
    from audit_portal.principals import Principal

    item = audits.mine.evidence[0]
    (other_auditor,) = scope.auditors_of(session, [audits.other.engagement.id])[audits.other.engagement.id]
    it = make_user("it")
    for user in (other_auditor, it):
        record_event(
            session,
            actor=Actor(Principal(role=user.role, username=user.username, user_id=user.id)),
            action="evidence.download",
            object_type="evidence",
            object_id=item.id,  # type: ignore[arg-type]
        )
    session.commit()

    auditor_page = login_as(audits.auditor).get(f"/evidence/{item.id}")
    assert auditor_page.status_code == 200
    assert it.username in auditor_page.text and audits.auditor.username in auditor_page.text
    assert other_auditor.username not in auditor_page.text

    it_page = login_as(it).get(f"/evidence/{item.id}")
    assert other_auditor.username in it_page.text and audits.auditor.username in it_page.text
