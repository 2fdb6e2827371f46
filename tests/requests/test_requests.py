"""Evidence requests: asking, the queue, answering with evidence, and the auditor's decision."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.errors import Conflict, InvalidInput, NotFound
from audit_portal.principals import Actor
from audit_portal.requests import service
from audit_portal.requests.models import EvidenceRequest, EvidenceRequestItem
from tests.engagements.fixtures import day


def _ask(
    workspace,
    subject: str = "8.20",
    due_in_days: int = 14,
    question: str = "Firewall rule reviews of Q2 and Q3",
):  # type: ignore[no-untyped-def]
    return service.create(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        subject=subject,
        question=question,
        due_date=day(-due_in_days).isoformat(),
    )


def test_the_auditor_asks_on_a_control_or_a_requirement(workspace, session):
    on_control = _ask(workspace, "8.20")
    on_requirement = _ask(workspace, "COM-1/firewall-review")
    on_measure = _ask(workspace, "COM-1")
    assert on_control.control_id is not None and on_control.requirement_id is None and on_control.state == "open"
    assert on_requirement.requirement_id is not None and on_requirement.control_id is None
    assert on_measure.control_id not in (None, on_control.control_id)
    assert on_control.created_by == workspace.auditor.id


@pytest.mark.parametrize(
    ("subject", "question", "due", "location"),
    [
        ("99.9", "q", 5, "subject"),
        ("", "q", 5, "subject"),
        ("XYZ-1/none", "q", 5, "subject"),
        ("8.8", " ", 5, "question"),
        ("8.8", "q", -1, "due_date"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(workspace, session, subject, question, due, location):
    with pytest.raises(InvalidInput) as refused:
        _ask(workspace, subject, due, question)
    assert location in {e["location"] for e in refused.value.errors}
    assert session.scalars(select(EvidenceRequest)).all() == []


def test_it_answers_with_existing_evidence_and_the_auditor_accepts(workspace, add_evidence, session, login_as):
    asked = _ask(workspace)
    evidence = add_evidence("COM-1/firewall-review", days_ago=3)
    it = login_as(workspace.it)
    base = f"/engagements/{workspace.engagement_id}/requests/{asked.id}"
    search = it.get(f"{base}/evidence-search?q={evidence.title[:12]}")
    assert f'value="{evidence.id}"' in search.text
    assert (
        it.post(
            f"{base}/answer",
            data={"evidence_ids": [str(evidence.id)], "note": "Q2 review attached"},
        ).status_code
        == 303
    )
    session.refresh(asked)
    assert (
        asked.state == "answered" and asked.answered_by == workspace.it.id and asked.answer_note == "Q2 review attached"
    )
    assert session.get(EvidenceRequestItem, (asked.id, evidence.id)) is not None
    auditor = login_as(workspace.auditor)
    assert auditor.post(f"{base}/state", data={"action": "accept"}).status_code == 303
    session.refresh(asked)
    assert asked.state == "accepted"
    assert auditor.post(f"{base}/state", data={"action": "close"}).status_code == 303
    session.refresh(asked)
    assert asked.state == "closed"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "evidence_request").order_by(AuditEvent.id)
    ).all()
    assert actions == ["request.create", "request.answer", "request.accept", "request.close"]


def test_the_evidence_numbers_field_takes_several_ids(workspace, add_evidence, session, login_as):
    asked = _ask(workspace)
    first, second = (
        add_evidence("COM-1/firewall-review", days_ago=3),
        add_evidence("ACC-1/firewall", days_ago=2),
    )
    response = login_as(workspace.it).post(
        f"/engagements/{workspace.engagement_id}/requests/{asked.id}/answer",
        data={"evidence_ids": f"{first.id}, {second.id}"},
    )
    assert response.status_code == 303
    assert sorted(
        session.scalars(select(EvidenceRequestItem.evidence_id).where(EvidenceRequestItem.request_id == asked.id))
    ) == sorted([first.id, second.id])


def test_an_answer_needs_evidence(workspace, session, login_as):
    asked = _ask(workspace)
    response = login_as(workspace.it).post(
        f"/engagements/{workspace.engagement_id}/requests/{asked.id}/answer",
        data={"note": "see mail"},
    )
    assert response.status_code == 422 and "Link at least one evidence item" in response.text
    session.refresh(asked)
    assert asked.state == "open"
    with pytest.raises(InvalidInput, match="no evidence 987654"):
        service.answer(
            session,
            actor=Actor(workspace.it_principal),
            engagement_id=workspace.engagement_id,
            request_id=asked.id,
            evidence_ids=[987654],
            note=None,
        )


def test_the_auditor_sends_an_answer_back(workspace, add_evidence, session):
    asked = _ask(workspace)
    evidence = add_evidence("COM-1/firewall-review")
    service.answer(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        request_id=asked.id,
        evidence_ids=[evidence.id],
        note=None,
    )
    service.decide(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        request_id=asked.id,
        action="reopen",
    )
    assert asked.state == "open"


@pytest.mark.parametrize(
    ("action", "state"),
    [("accept", "open"), ("reopen", "open"), ("close", "closed"), ("accept", "accepted")],
)
def test_impossible_transitions_are_conflicts(workspace, session, action, state):
    asked = _ask(workspace)
    asked.state = state
    session.flush()
    with pytest.raises(Conflict):
        service.decide(
            session,
            actor=Actor(workspace.auditor_principal),
            engagement_id=workspace.engagement_id,
            request_id=asked.id,
            action=action,
        )


def test_a_closed_request_takes_no_answer(workspace, add_evidence, session):
    asked = _ask(workspace)
    service.decide(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        request_id=asked.id,
        action="close",
    )
    with pytest.raises(Conflict):
        service.answer(
            session,
            actor=Actor(workspace.it_principal),
            engagement_id=workspace.engagement_id,
            request_id=asked.id,
            evidence_ids=[add_evidence("COM-1/firewall-review").id],
            note=None,
        )


def test_overdue_requests_are_marked_in_the_queue(workspace, session, login_as):
    late = _ask(workspace, question="Late one")
    late.due_date = day(3)
    _ask(workspace, question="In time")
    session.flush()
    views = {
        v.request.question: v for v in service.queue(session, workspace.auditor_principal, workspace.engagement_id)[1]
    }
    assert views["Late one"].overdue and not views["In time"].overdue
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/requests").text
    assert html.count('<tr class="overdue">') == 1 and ">overdue</span>" in html


def test_an_answered_request_past_its_due_date_is_not_overdue(workspace, add_evidence, session):
    asked = _ask(workspace)
    service.answer(
        session,
        actor=Actor(workspace.it_principal),
        engagement_id=workspace.engagement_id,
        request_id=asked.id,
        evidence_ids=[add_evidence("COM-1/firewall-review").id],
        note=None,
    )
    asked.due_date = day(10)
    session.flush()
    assert not service.views(session, [asked])[0].overdue


def test_the_queue_filters_by_state_through_htmx(workspace, session, login_as):
    _ask(workspace, question="Still open")
    closed = _ask(workspace, question="Done with")
    service.decide(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        request_id=closed.id,
        action="close",
    )
    fragment = login_as(workspace.it).get(
        f"/engagements/{workspace.engagement_id}/requests?state=open",
        headers={"HX-Request": "true"},
    )
    assert fragment.text.lstrip().startswith('<div id="queue">')
    assert "Still open" in fragment.text and "Done with" not in fragment.text


def test_a_new_upload_answers_the_request(workspace, add_evidence, session):
    asked = _ask(workspace)
    uploaded = add_evidence("COM-1/firewall-review")
    view = service.open_request_for_upload(session, workspace.it_principal, asked.id)
    assert view.request.id == asked.id
    service.link_uploaded_evidence(
        session,
        actor=Actor(workspace.it_principal),
        request_id=asked.id,
        evidence=uploaded,
    )
    assert asked.state == "answered"
    assert [e.id for e in service.views(session, [asked])[0].evidence] == [uploaded.id]


def test_requests_of_another_engagement_are_404(workspace, session, make_user, login_as):
    asked = _ask(workspace)
    outsider = login_as(make_user("auditor"))
    assert outsider.get(f"/engagements/{workspace.engagement_id}/requests/{asked.id}").status_code == 404
    with pytest.raises(NotFound):
        service.get_request(session, workspace.auditor_principal, workspace.engagement_id, asked.id + 1)


@pytest.mark.parametrize(
    ("role", "path", "data"),
    [
        ("it", "new", {"subject": "8.8", "question": "q", "due_date": "2099-01-01"}),
        ("auditor", "{id}/answer", {"evidence_ids": "1"}),
        ("it", "{id}/state", {"action": "close"}),
    ],
)
def test_who_does_what(workspace, session, login_as, role, path, data):
    asked = _ask(workspace)
    user = workspace.auditor if role == "auditor" else workspace.it
    response = login_as(user).post(
        f"/engagements/{workspace.engagement_id}/requests/" + path.format(id=asked.id), data=data
    )
    assert response.status_code == 403


def test_the_detail_page_offers_the_right_actions(workspace, login_as):
    asked = _ask(workspace)
    url = f"/engagements/{workspace.engagement_id}/requests/{asked.id}"
    it_page = login_as(workspace.it).get(url).text
    assert f'href="/evidence/upload?request={asked.id}"' in it_page and 'id="answer-form"' in it_page
    auditor_page = login_as(workspace.auditor).get(url).text
    assert (
        'id="answer-form"' not in auditor_page
        and 'value="close"' in auditor_page
        and 'value="accept"' not in auditor_page
    )


def test_the_control_page_lists_its_requests(workspace, login_as):
    _ask(workspace, "COM-1/firewall-review", question="Show the Q3 firewall review")
    # The request is about a requirement of COM-1, a measure mapped to 8.20.
    html = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/controls/8.20").text
    assert "Show the Q3 firewall review" in html


def test_a_malformed_evidence_number_is_refused(workspace, session, login_as):
    asked = _ask(workspace)
    response = login_as(workspace.it).post(
        f"/engagements/{workspace.engagement_id}/requests/{asked.id}/answer",
        data={"evidence_ids": "12, twelve"},
    )
    assert response.status_code == 422 and "Evidence is named by its number." in response.text
    session.refresh(asked)
    assert asked.state == "open"
