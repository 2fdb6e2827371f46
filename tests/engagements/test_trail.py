"""The auditor's read-only view of the audit log inside an engagement: the SoA's change history
and the events about the period's evidence; nothing of other engagements, periods or events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.engagements import service, trail
from audit_portal.engagements.service import review_evidence
from audit_portal.principals import Actor, Principal
from audit_portal.soa.service import update_entry
from tests.engagements.fixtures import principal_of


@pytest.fixture
def past_engagement(workspace, make_user):  # type: ignore[no-untyped-def]
    """An engagement whose period ended 100 days ago, with an auditor of its own."""
    auditor = make_user("auditor")
    today = utcnow().date()
    form = service.EngagementForm(
        name="Last year's audit",
        framework_key="iso27001-2022",
        period_start=(today - timedelta(days=500)).isoformat(),
        period_end=(today - timedelta(days=100)).isoformat(),
        auditor_ids=[auditor.id],
    )
    engagement = service.create_engagement(workspace.session, form=form, actor=Actor(workspace.admin_principal))
    return engagement, auditor


def _events(html: str) -> list[str]:
    return re.findall(r'<td class="mono">([^<]+)</td>', html)


def test_the_workspace_tabs_reach_the_package_and_the_trails(workspace, login_as):
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls").text
    for path in ("/export", "/soa-history", "/audit-events"):
        assert f'href="/engagements/{workspace.engagement_id}{path}"' in html


def test_an_auditor_reads_the_soa_changes_of_the_period(workspace, past_engagement, login_as):
    session = workspace.session
    update_entry(
        session,
        ref="5.7",
        applicable="no",
        justification="Threat intelligence comes with the MSP contract.",
        status="not_started",
        owner="",
        actor=Actor(workspace.admin_principal),
    )
    session.commit()
    client = login_as(workspace.auditor)
    page = client.get(f"/engagements/{workspace.engagement_id}/soa-history")
    assert page.status_code == 200
    assert "control 5.7" in page.text and "applicable: applicable → not applicable" in page.text
    assert "Threat intelligence comes with the MSP contract." in page.text
    assert set(_events(page.text)) <= {"soa.update", "soa.defaults"}
    # the change lies after the other engagement's period: its auditor does not see it
    engagement, auditor = past_engagement
    other = login_as(auditor).get(f"/engagements/{engagement.id}/soa-history")
    assert other.status_code == 200 and "control 5.7" not in other.text
    # and neither auditor reaches the other's engagement
    assert login_as(auditor).get(f"/engagements/{workspace.engagement_id}/soa-history").status_code == 404
    assert client.get(f"/engagements/{engagement.id}/soa-history").status_code == 404
    assert client.get(f"/engagements/{engagement.id}/audit-events").status_code == 404


def test_the_evidence_trail_shows_only_events_about_the_periods_evidence(
    workspace, past_engagement, add_evidence, login_as
):
    session = workspace.session
    inside = add_evidence("OPS-2/patches", days_ago=20, title="patch report of the period")
    outside = add_evidence("OPS-2/patches", days_ago=400, title="patch report before the period")
    review_evidence(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        evidence_id=inside.id,
        decision="reject",
        comment="The report misses db1.",
    )
    _, other_auditor = past_engagement
    # another engagement's auditor looked at the same item: their work is not this engagement's
    record_event(
        session,
        actor=Actor(principal_of(other_auditor)),
        action="evidence.view",
        object_type="evidence",
        object_id=str(inside.id),
    )
    record_event(
        session,
        actor=Actor(Principal(role="admin", username="root")),
        action="user.create",
        object_type="user",
        object_id="42",
    )
    session.commit()
    page = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/audit-events")
    assert page.status_code == 200
    shown = _events(page.text)
    assert "evidence.upload" in shown and "evidence.review.rejected" in shown
    assert f'href="/evidence/{inside.id}"' in page.text
    assert f'href="/evidence/{outside.id}"' not in page.text
    assert "user.create" not in shown
    assert other_auditor.username not in page.text
    filtered = login_as(workspace.auditor).get(
        f"/engagements/{workspace.engagement_id}/audit-events",
        params={"action": "evidence.review"},
        headers={"HX-Request": "true"},
    )
    assert set(_events(filtered.text)) == {"evidence.review.rejected"} and "<html" not in filtered.text


def test_the_trail_pages_through_every_event_once(workspace, add_evidence):
    session = workspace.session
    item = add_evidence("OPS-2/patches", days_ago=5)
    for n in range(trail.PAGE_SIZE + 7):
        record_event(
            session,
            actor=Actor(workspace.it_principal),
            action="evidence.view",
            object_type="evidence",
            object_id=str(item.id),
            detail={"n": n},
        )
    engagement = service.get_engagement(session, workspace.admin_principal, workspace.engagement_id)
    seen: list[int] = []
    before = None
    for _ in range(5):
        page = trail.evidence_events(session, engagement, before=before, language="en")
        seen += [row.event.id for row in page.rows]
        if page.older is None:
            break
        before = page.older
    assert len(seen) == len(set(seen)) == trail.PAGE_SIZE + 8  # the views and the upload
    assert seen == sorted(seen, reverse=True)


def test_the_evidence_trail_reads_in_the_readers_language(workspace, add_evidence, login_as):
    session = workspace.session
    item = add_evidence("OPS-2/patches", days_ago=5)
    record_event(
        session,
        actor=Actor(workspace.it_principal),
        action="evidence.download",
        object_type="evidence",
        object_id=str(item.id),
    )
    session.commit()
    client = login_as(workspace.auditor)
    dutch = client.get(f"/engagements/{workspace.engagement_id}/audit-events", headers={"Accept-Language": "nl"}).text
    assert f"Bewijsstuk #{item.id} gedownload" in dutch and "<summary>Vastgelegde JSON</summary>" in dutch
    english = client.get(f"/engagements/{workspace.engagement_id}/audit-events").text
    assert f"Evidence item #{item.id} downloaded" in english
