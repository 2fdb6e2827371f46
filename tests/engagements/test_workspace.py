"""The auditor's workspace: the controls and measures tables and the control page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from audit_portal.engagements import service
from audit_portal.engagements.models import Engagement
from audit_portal.principals import Actor
from audit_portal.requests import service as requests
from tests.engagements.fixtures import day

HTMX = {"HX-Request": "true"}


def _rows(html: str) -> list[str]:
    """The control refs of the table rows, in order."""
    return re.findall(r'<tr id="control-([^"]+)"', html)


@pytest.fixture
def counted_coverage(monkeypatch):  # type: ignore[no-untyped-def]
    calls = []
    original = service.coverage_as_of

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "coverage_as_of", counting)
    return calls


def _statements(session, action) -> int:  # type: ignore[no-untyped-def]
    executed = []
    engine = session.connection().engine

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        executed.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(executed)


def test_one_coverage_computation_and_a_fixed_number_of_queries_per_table(
    workspace, add_evidence, session, counted_coverage
):
    engagement = session.get(Engagement, workspace.engagement_id)
    add_evidence("OPS-2/patches")
    few = _statements(
        session,
        lambda: service.workspace_table(session, engagement, kind="controls", query=service.TableQuery()),
    )
    assert len(counted_coverage) == 1
    for key in ("ACC-1/firewall", "CRY-3/tls", "PHY-3/backup", "HR-3/awareness"):
        add_evidence(key)
    requests.create(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=engagement.id,
        subject="8.20",
        question="Firewall reviews of the year",
        due_date=day(-10).isoformat(),
    )
    many = _statements(
        session,
        lambda: service.workspace_table(session, engagement, kind="controls", query=service.TableQuery()),
    )
    assert len(counted_coverage) == 2
    assert many == few


def test_the_table_lists_every_control_with_status_word_and_reason(workspace, login_as):
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls").text
    refs = _rows(html)
    assert len(refs) == 93 and refs[0] == "5.1"
    assert 'class="chip missing" title="requirement' in html
    assert ">Missing</span>" in html and ">Not applicable</span>" in html


def test_the_status_filter_keeps_only_that_status(workspace, add_evidence, login_as):
    add_evidence("OPS-2/patches", days_ago=1)
    client = login_as(workspace.auditor)
    html = client.get(f"/engagements/{workspace.engagement_id}/controls?status=not_applicable").text
    refs = _rows(html)
    assert refs and all(f'id="control-{ref}"' in html for ref in refs)
    assert "8.8" not in refs
    assert html.count('class="chip not_applicable"') == len(refs)


def test_theme_filter_and_text_search(workspace, login_as):
    client = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}/controls"
    assert all(ref.startswith("7.") for ref in _rows(client.get(f"{base}?theme=7").text))
    assert _rows(client.get(f"{base}?q=vulnerabilit").text) == ["8.8"]
    assert _rows(client.get(f"{base}?q=8.13").text) == ["8.13"]


def test_sorting_by_evidence_and_newest(workspace, add_evidence, login_as):
    add_evidence("OPS-2/patches", days_ago=40)
    add_evidence("OPS-2/patches", days_ago=30)
    add_evidence("CRY-3/tls", days_ago=2)
    client = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}/controls"
    by_evidence = _rows(client.get(f"{base}?sort=evidence&direction=desc").text)
    assert by_evidence[0] == "8.8"  # OPS-2 maps to 8.8 and 8.19: two items each
    html = client.get(f"{base}?sort=newest&direction=desc").text
    newest = _rows(html)
    first_row = html.split(f'id="control-{newest[0]}"')[1].split("</tr>")[0]
    assert day(2).isoformat() in first_row  # a control CRY-3 serves
    assert newest.index("8.8") < newest.index("5.1")  # 5.1 has no evidence at all
    assert _rows(client.get(f"{base}?sort=ref&direction=desc").text)[0] == "8.34"


def test_htmx_gets_only_the_results_and_the_url_without_htmx_the_page(workspace, login_as):
    client = login_as(workspace.auditor)
    url = f"/engagements/{workspace.engagement_id}/controls?status=missing&sort=status"
    fragment = client.get(url, headers=HTMX)
    assert fragment.status_code == 200 and fragment.headers["vary"] == "HX-Request, Accept-Language"
    assert fragment.text.lstrip().startswith('<div id="results">') and "<html" not in fragment.text
    page = client.get(url)
    assert "<html" in page.text and 'hx-push-url="true"' in page.text and 'id="results"' in page.text
    assert _rows(fragment.text) == _rows(page.text)


def test_auditor_views_are_audit_events_but_htmx_refreshes_are_not(workspace, login_as, session):
    from sqlalchemy import select

    from audit_portal.audit.models import AuditEvent

    client = login_as(workspace.auditor)
    client.get(f"/engagements/{workspace.engagement_id}/controls")
    client.get(f"/engagements/{workspace.engagement_id}/controls?q=8", headers=HTMX)
    client.get(f"/engagements/{workspace.engagement_id}/controls/8.8")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("engagement.view.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["engagement.view.controls", "engagement.view.control"]


def test_the_measures_table_shows_the_annex_2_measures(workspace, add_evidence, login_as):
    add_evidence("OPS-2/patches")
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/measures").text
    refs = _rows(html)
    assert len(refs) == 34 and refs[0] == "POL-1"
    ops2 = html.split('id="control-OPS-2"')[1].split("</tr>")[0]
    assert 'class="chip covered"' in ops2


def test_the_scope_narrows_the_table(workspace, session, login_as):
    engagement = session.get(Engagement, workspace.engagement_id)
    form = service.form_for(session, engagement)
    form.scope_refs = "8.8, 8.13"
    service.update_engagement(
        session,
        engagement_id=engagement.id,
        form=form,
        actor=Actor(workspace.admin_principal),
    )
    assert _rows(login_as(workspace.auditor).get(f"/engagements/{engagement.id}/controls").text) == ["8.8", "8.13"]


def test_counts_of_open_requests_and_findings_per_control(workspace, session):
    from audit_portal.findings import service as findings

    engagement = session.get(Engagement, workspace.engagement_id)
    auditor = workspace.auditor_principal
    requests.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        subject="8.8",
        question="q",
        due_date=day(-5).isoformat(),
    )
    requests.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        subject="OPS-2/patches",
        question="q",
        due_date=day(-5).isoformat(),
    )
    closed = requests.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        subject="8.8",
        question="q",
        due_date=day(-5).isoformat(),
    )
    requests.decide(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        request_id=closed.id,
        action="close",
    )
    findings.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        form=findings.FindingForm(title="Patching late", category="minor_nc", control_refs="8.8"),
    )
    rows = {
        r.coverage.ref: r
        for r in service.workspace_table(session, engagement, kind="controls", query=service.TableQuery()).rows
    }
    assert rows["8.8"].pending_requests == 2  # one on the control, one on the requirement of OPS-2 that serves it
    assert rows["8.19"].pending_requests == 1  # OPS-2/patches serves 8.19 too
    assert rows["8.8"].open_findings == 1 and rows["8.19"].open_findings == 0


def test_the_control_page_shows_requirements_history_mapping_and_soa(workspace, add_evidence, login_as):
    old = add_evidence("OPS-2/patches", days_ago=20, title="Patch report March")
    new = add_evidence("OPS-2/patches", days_ago=1, title="Patch report April")
    before = add_evidence("OPS-2/patches", days_ago=400, title="Patch report of the year before")
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls/8.8").text
    assert "OPS-2/patches" in html and "via measure" in html
    assert f'href="/evidence/{new.id}"' in html and f'href="/evidence/{old.id}"' in html
    assert f'href="/evidence/{before.id}"' not in html  # outside the period
    assert html.index("Patch report April") < html.index("Patch report March")
    assert html.count(">newest</span>") == 1
    assert "Statement of Applicability" in html and "applicable" in html
    assert f'action="/engagements/{workspace.engagement_id}/evidence/{new.id}/review"' in html


def test_it_sees_the_control_page_without_review_buttons(workspace, add_evidence, login_as):
    add_evidence("OPS-2/patches")
    html = login_as(workspace.it).get(f"/engagements/{workspace.engagement_id}/controls/8.8").text
    assert "/review" not in html


def test_an_unknown_control_is_404(workspace, login_as):
    assert login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls/99.99").status_code == 404


def test_the_2013_edition_uses_its_own_controls_and_the_successors_soa(catalogue, session, make_user, login_as):
    from tests.engagements.fixtures import principal_of

    auditor = make_user("auditor")
    form = service.EngagementForm(
        name="Legacy",
        framework_key="iso27001-2013",
        period_start=day(100).isoformat(),
        period_end=day(0).isoformat(),
        auditor_ids=[auditor.id],
    )
    engagement = service.create_engagement(session, form=form, actor=Actor(principal_of(make_user("admin"))))
    client = login_as(auditor)
    refs = _rows(client.get(f"/engagements/{engagement.id}/controls").text)
    assert len(refs) == 114 and "A.12.6.1" in refs
    page = client.get(f"/engagements/{engagement.id}/controls/A.12.6.1").text
    assert "OPS-2/patches" in page and "8.8" in page


def test_sort_headers_keep_the_filters_and_flip_the_direction(workspace, login_as):
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls?theme=8&sort=status").text
    assert f'href="/engagements/{workspace.engagement_id}/controls?theme=8&amp;sort=status&amp;direction=desc"' in html
    assert f'href="/engagements/{workspace.engagement_id}/controls?theme=8&amp;sort=evidence"' in html
    assert 'aria-sort="ascending"' in html
