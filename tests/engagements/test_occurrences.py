"""Occurrences: the control page shows per requirement the newest occurrence (one collector run
or one upload batch) in full and a keyset-paged, filterable history of occurrences; whole
occurrences are reviewed alone or several at once, each item keeping its own audit event."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, insert, select

from audit_portal.audit.models import AuditEvent
from audit_portal.catalogue.models import Requirement
from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.engagements.models import EvidenceReview
from audit_portal.engagements.occurrences import PAGE_SIZE
from audit_portal.evidence.models import Evidence, EvidenceRequirement

HTMX = {"HX-Request": "true"}
REQUIREMENT = "OPS-2/patches"  # the one requirement of measure OPS-2, which 8.8 is proven by


def _requirement_id(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(Requirement.id).where(Requirement.key == REQUIREMENT))


def _at(days_ago: int, minute: int = 0) -> datetime:
    day = utcnow().date() - timedelta(days=days_ago)
    return datetime.combine(day, time(6, minute), tzinfo=UTC)


class Items:
    """Evidence rows written straight into the tables: thousands of them in one statement, which
    the store is not needed for (the pages never read the objects)."""

    def __init__(self, session, uploader_id: int) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.uploader_id = uploader_id
        self.requirement_id = _requirement_id(session)
        self.instance = CollectorInstance(
            name="patch-collector",
            collector="patches",
            config_json="{}",
            schedule="0 3 * * *",
            created_at=_at(400),
            updated_at=_at(400),
        )
        session.add(self.instance)
        session.flush()

    def run(self, days_ago: int, status: str = "ok", kinds=("raw", "normalised", "report")) -> list[int]:  # type: ignore[no-untyped-def]
        run = CollectorRun(
            instance_id=self.instance.id,
            instance_name=self.instance.name,
            trigger="schedule",
            started_at=_at(days_ago),
            finished_at=_at(days_ago),
            status=status,
        )  # type: ignore[arg-type]
        self.session.add(run)
        self.session.flush()
        return self.add(
            [
                {
                    "collected_at": _at(days_ago, minute),
                    "collector_run_id": run.id,
                    "artifact_kind": kind,
                    "source_kind": "collector",
                    "collector_instance": self.instance.name,
                    "uploaded_by_id": None,
                }
                for minute, kind in enumerate(kinds)
            ]
        )

    def upload(self, days_ago: int, files: int = 1, minute: int = 0) -> list[int]:
        return self.add([{"collected_at": _at(days_ago, minute)} for _ in range(files)])

    def add(self, rows: list[dict]) -> list[int]:
        first = (self.session.scalar(select(func.max(Evidence.id))) or 0) + 1
        values = []
        for offset, row in enumerate(rows):
            number = first + offset
            values.append(
                {
                    "id": number,
                    "title": f"patch report {number}",
                    "source_kind": "upload",
                    "uploaded_by_id": self.uploader_id,
                    "original_filename": "patches.json",
                    "content_type": "application/json",
                    "size": 10,
                    "sha256": f"{number:064x}",
                    "store_key": f"sha256/{number:064x}",
                    "created_at": row["collected_at"],
                    "collector_run_id": None,
                    "artifact_kind": None,
                    "collector_instance": None,
                    "integrity": "ok",
                    "legal_hold": False,
                    **row,
                }
            )
        self.session.execute(insert(Evidence), values)
        self.session.execute(
            insert(EvidenceRequirement),
            [{"evidence_id": v["id"], "requirement_id": self.requirement_id} for v in values],
        )
        self.session.flush()
        return [v["id"] for v in values]


@pytest.fixture
def items(workspace, make_user):  # type: ignore[no-untyped-def]
    return Items(workspace.session, make_user("it").id)


def _history_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="occurrence-row[^"]*">', html)


def _anchors(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="occurrence" value="(\d+)"', html)]


def _control(client, workspace):  # type: ignore[no-untyped-def]
    return client.get(f"/engagements/{workspace.engagement_id}/controls/OPS-2")


def _base(workspace, session) -> str:  # type: ignore[no-untyped-def]
    return f"/engagements/{workspace.engagement_id}/controls/OPS-2/requirements/{_requirement_id(session)}/occurrences"


def test_a_run_is_one_occurrence_and_an_upload_batch_another(workspace, items, login_as):
    run = items.run(days_ago=3)
    batch = items.upload(days_ago=2, files=2)  # two files, same uploader and time: one batch
    alone = items.upload(days_ago=1, minute=5)
    response = _control(login_as(workspace.auditor), workspace)
    assert response.status_code == 200
    # newest first; each occurrence is named by its newest item
    assert _anchors(response.text) == [alone[0], max(batch), max(run)]
    assert "collector run" in response.text and "<td>3</td>" in response.text and "<td>2</td>" in response.text


def test_the_newest_occurrence_is_shown_in_full(workspace, items, login_as):
    items.upload(days_ago=9)
    run = items.run(days_ago=2)
    html = _control(login_as(workspace.auditor), workspace).text
    newest = html.split("<h4>Newest occurrence</h4>")[1].split('class="occurrences"')[0]
    assert sorted(int(n) for n in re.findall(r'href="/evidence/(\d+)"', newest)) == sorted(run)


def test_ten_thousand_occurrences_render_one_page(workspace, items, login_as):
    rows = [{"collected_at": _at(300) + timedelta(minutes=n)} for n in range(10_000)]
    items.add(rows)
    response = _control(login_as(workspace.auditor), workspace)
    assert response.status_code == 200
    assert len(_history_rows(response.text)) == PAGE_SIZE
    assert "Older occurrences" in response.text
    # a page of rows, not ten thousand forms: the whole page stays small
    assert len(response.content) < 150_000


def test_keyset_pages_walk_every_occurrence_once(workspace, items, session, login_as):
    # several occurrences share collected_at, so the id decides the order among them
    made = [items.upload(days_ago=5, minute=n % 3)[0] for n in range(2 * PAGE_SIZE + 5)]
    client = login_as(workspace.auditor)
    seen: list[int] = []
    url = _base(workspace, session)
    for _ in range(10):
        html = client.get(url).text
        seen += _anchors(html)
        older = re.search(r'class="older" href="([^"]+)"', html)
        if not older:
            break
        url = older.group(1).replace("&amp;", "&")
    # uploads of the same minute by the same uploader form one batch each
    assert len(seen) == len(set(seen)) == 3
    assert set(seen) <= set(made)


def test_keyset_pages_over_distinct_occurrences(workspace, items, session, login_as):
    made = [items.upload(days_ago=200 - n)[0] for n in range(2 * PAGE_SIZE + 5)]
    client = login_as(workspace.auditor)
    seen: list[int] = []
    url = _base(workspace, session)
    pages = 0
    while url and pages < 10:
        html = client.get(url, headers=HTMX).text
        pages += 1
        seen += _anchors(html)
        older = re.search(r'class="older" href="([^"]+)"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert pages == 3
    assert seen == sorted(made, reverse=True)


def test_the_history_filters_by_period_review_and_run_status(workspace, items, session, login_as):
    failed = items.run(days_ago=20, status="failed")
    ok = items.run(days_ago=10)
    upload = items.upload(days_ago=5)
    client = login_as(workspace.auditor)
    base = _base(workspace, session)
    assert _anchors(client.get(base, params={"run_status": "failed"}, headers=HTMX).text) == [max(failed)]
    assert _anchors(client.get(base, params={"run_status": "upload"}, headers=HTMX).text) == upload
    day = (utcnow().date() - timedelta(days=10)).isoformat()
    assert _anchors(client.get(base, params={"period_from": day, "period_to": day}).text) == [max(ok)]
    client.post(f"{base}/review", data={"occurrence": [max(ok)], "decision": "accept"}, headers=HTMX)
    assert _anchors(client.get(base, params={"review": "accepted"}).text) == [max(ok)]
    assert _anchors(client.get(base, params={"review": "pending"}).text) == [upload[0], max(failed)]
    assert _anchors(client.get(base, params={"review": "nonsense"}).text) == [upload[0], max(ok), max(failed)]


def test_accepting_an_occurrence_reviews_every_item_with_an_event_each(workspace, items, session, login_as):
    run = items.run(days_ago=4)
    response = login_as(workspace.auditor).post(
        f"{_base(workspace, session)}/review", data={"only": max(run), "comment": "Complete"}, headers=HTMX
    )
    assert response.status_code == 200 and "3 items accepted" in response.text
    reviews = session.scalars(select(EvidenceReview).where(EvidenceReview.evidence_id.in_(run))).all()
    assert sorted(r.evidence_id for r in reviews) == sorted(run)
    assert {(r.status, r.comment) for r in reviews} == {("accepted", "Complete")}
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.review.accepted")).all()
    assert sorted(int(e.object_id) for e in events) == sorted(run)


def test_several_occurrences_accepted_in_one_action(workspace, items, session, login_as):
    first, second, untouched = items.run(days_ago=14), items.upload(days_ago=7, files=2), items.run(days_ago=3)
    response = login_as(workspace.auditor).post(
        f"{_base(workspace, session)}/review",
        data={"occurrence": [max(first), max(second)], "decision": "accept", "comment": "Sample A"},
    )
    assert response.status_code == 303
    reviewed = set(session.scalars(select(EvidenceReview.evidence_id)).all())
    assert reviewed == set(first) | set(second) and not reviewed & set(untouched)


def test_rejecting_without_a_comment_shows_the_error_at_the_field_and_changes_nothing(
    workspace, items, session, login_as
):
    run = items.run(days_ago=4)
    response = login_as(workspace.auditor).post(
        f"{_base(workspace, session)}/review",
        data={"occurrence": [max(run)], "decision": "reject", "comment": "  "},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert re.search(r'id="occurrences-\d+-comment-error" class="field-error" role="alert"', response.text)
    assert "Say why the evidence is rejected." in response.text
    assert 'id="occurrences-' in response.text  # the fragment htmx swaps in place of the history
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 0


def test_nothing_selected_is_refused(workspace, items, session, login_as):
    items.run(days_ago=4)
    response = login_as(workspace.auditor).post(
        f"{_base(workspace, session)}/review", data={"decision": "accept"}, headers=HTMX
    )
    assert response.status_code == 422 and "Select at least one occurrence." in response.text


def test_an_occurrence_of_another_requirement_or_period_is_not_found(workspace, items, session, login_as):
    old = items.upload(days_ago=500)  # before the engagement's period
    client = login_as(workspace.auditor)
    response = client.post(f"{_base(workspace, session)}/review", data={"only": old[0]}, headers=HTMX)
    assert response.status_code == 404
    other = session.scalar(select(Requirement.id).where(Requirement.key != REQUIREMENT))
    response = client.get(f"/engagements/{workspace.engagement_id}/controls/OPS-2/requirements/{other}/occurrences")
    assert response.status_code == 404
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 0


def test_it_reads_the_history_but_cannot_review(workspace, items, session, login_as):
    run = items.run(days_ago=4)
    client = login_as(workspace.it)
    assert client.get(_base(workspace, session)).status_code == 200
    response = client.post(f"{_base(workspace, session)}/review", data={"only": max(run)})
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(EvidenceReview)) == 0


def test_every_form_answering_422_is_swapped_by_htmx():
    """htmx swaps nothing on 4xx by default; the portal's configuration swaps 422 so a refused
    form shows its errors (the review row, the occurrence history and every other form)."""
    from pathlib import Path

    base = (Path(__file__).parents[2] / "templates/layouts/base.html").read_text()
    config = re.search(r"name=\"htmx-config\" content='([^']+)'", base).group(1)
    import json

    handling = json.loads(config)["responseHandling"]
    first_match = next(rule for rule in handling if re.fullmatch(rule["code"], "422"))
    assert first_match["swap"] is True
