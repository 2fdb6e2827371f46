"""Sampling: the population is a requirement's occurrences in the period, the size follows the
requirement's frequency, a recorded seed reproduces the sample, every item gets a test result,
the sample a conclusion, and an exception raises a finding linked to its items."""

from __future__ import annotations

import io
import json
import random
import re

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.catalogue.models import Requirement
from audit_portal.config import Settings
from audit_portal.engagements import sampling
from audit_portal.engagements.sample_models import Sample, SampleItem
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from tests.engagements.test_occurrences import Items

SIZES = Settings(environment="test").sample_sizes


@pytest.fixture
def items(workspace, make_user):  # type: ignore[no-untyped-def]
    return Items(workspace.session, make_user("it").id)


@pytest.fixture
def runs(items):  # type: ignore[no-untyped-def]
    """Twenty patch runs of three items each (raw, normalised, report) and one older than the
    period: the population is twenty occurrences, named by each run's newest item."""
    anchors = [max(items.run(days_ago=day)) for day in range(2, 42, 2)]
    items.run(days_ago=500)
    return sorted(anchors)


def _draw(workspace, sizes=SIZES, **form):  # type: ignore[no-untyped-def]
    return sampling.draw(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        form=sampling.SampleForm(subject="OPS-2/patches", **form),
        sizes=sizes,
    )


def _items(session, sample: Sample) -> list[int]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(SampleItem.evidence_id).where(SampleItem.sample_id == sample.id).order_by(SampleItem.position)
        )
    )


# --- the size rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency_days", "frequency", "least", "most"),
    [
        (365, "annual", 1, 1),
        (180, "quarterly", 2, 2),
        (90, "quarterly", 2, 2),
        (30, "monthly", 2, 5),
        (7, "weekly", 5, 15),
        (1, "daily", 20, 40),
    ],
)
def test_the_size_follows_the_frequency(frequency_days, frequency, least, most):
    rule = sampling.size_rule(Requirement(frequency_days=frequency_days), 1000, SIZES)
    assert (rule.frequency, rule.least, rule.most) == (frequency, least, most)
    assert rule.bounds == (least, most) and not rule.whole_population
    assert rule.describe().startswith(f"{frequency} (every {frequency_days} days)")


@pytest.mark.parametrize(("population", "bounds", "whole"), [(3, (3, 3), True), (5, (5, 5), True), (9, (5, 9), False)])
def test_a_small_population_caps_the_size(population, bounds, whole):
    rule = sampling.size_rule(Requirement(frequency_days=7), population, SIZES)
    assert rule.bounds == bounds and rule.whole_population is whole


def test_the_sizes_are_a_setting():
    settings = Settings(environment="test", sample_sizes="annual=1,quarterly=2,monthly=3-6,weekly=5-10,daily=25-60")
    assert settings.sample_sizes["monthly"] == (3, 6) and settings.sample_sizes["daily"] == (25, 60)
    with pytest.raises(ValidationError, match="give a size for each"):
        Settings(environment="test", sample_sizes="annual=1,weekly=5-15")
    with pytest.raises(ValidationError, match="least size"):
        Settings(environment="test", sample_sizes="annual=1,quarterly=2,monthly=5-2,weekly=5-15,daily=20-40")


# --- drawing ------------------------------------------------------------------------------------


def test_a_random_sample_draws_occurrences_with_the_least_size_by_default(workspace, runs, session):
    sample = _draw(workspace, seed="20260401")
    assert _items(session, sample) == random.Random(20260401).sample(runs, 5)
    assert (sample.population_size, sample.size, sample.method, sample.seed) == (20, 5, "random", "20260401")
    assert sample.size_rule == "weekly (every 7 days): 5 to 15"
    detail = json.loads(session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "sample.draw")).one())
    assert detail["size_rule"] == sample.size_rule and detail["occurrences"] == _items(session, sample)


def test_the_same_seed_over_the_same_population_draws_the_same_items(workspace, runs, session):
    first, second, other = (
        _draw(workspace, seed="7", size="8"),
        _draw(workspace, seed="7", size="8"),
        _draw(workspace, seed="8", size="8"),
    )
    assert _items(session, first) == _items(session, second) != _items(session, other)
    _, _, check = sampling.verify(
        session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        sample_id=first.id,
    )
    assert check.matches and check.redrawn_ids == _items(session, first)


def test_a_seed_is_generated_and_recorded_when_none_is_given(workspace, runs, session):
    sample = _draw(workspace)
    assert 0 <= int(sample.seed) < 2**64
    assert _items(session, sample) == random.Random(int(sample.seed)).sample(runs, 5)


def test_a_population_no_larger_than_the_rule_is_tested_whole(workspace, items, session):
    anchors = sorted(max(items.run(days_ago=day)) for day in (3, 9, 15))
    sample = _draw(workspace, seed="1", size="2")
    assert sorted(_items(session, sample)) == anchors and sample.size == 3
    assert "no larger, so all of it is tested" in sample.size_rule


def test_a_judgemental_sample_records_the_chosen_occurrences(workspace, runs, session):
    chosen = [runs[0], runs[7], runs[3], runs[19], runs[11]]
    sample = _draw(workspace, method="judgemental", chosen=", ".join(f"#{a}" for a in chosen))
    assert _items(session, sample) == chosen and sample.seed == "" and sample.method == "judgemental"
    with pytest.raises(Conflict):
        sampling.verify(
            session,
            actor=Actor(workspace.auditor_principal),
            engagement_id=workspace.engagement_id,
            sample_id=sample.id,
        )


@pytest.mark.parametrize(
    ("form", "location"),
    [
        ({"size": "4"}, "size"),
        ({"size": "16"}, "size"),
        ({"size": "three"}, "size"),
        ({"seed": str(2**64)}, "seed"),
        ({"method": "haphazard"}, "method"),
        ({"method": "judgemental", "chosen": "1, 2"}, "chosen"),
        ({"method": "judgemental", "chosen": ""}, "chosen"),
    ],
)
def test_bad_draws_are_refused_and_keep_nothing(workspace, runs, session, form, location):
    with pytest.raises(InvalidInput) as refused:
        _draw(workspace, **form)
    assert location in {e["location"] for e in refused.value.errors}
    assert session.scalars(select(Sample)).all() == []


def test_a_judgemental_sample_smaller_than_the_rule_is_refused(workspace, runs, session):
    with pytest.raises(InvalidInput, match="allows 5 to 15"):
        _draw(workspace, method="judgemental", chosen=f"{runs[0]} {runs[1]}")


def test_the_subject_must_be_a_requirement_with_occurrences(workspace, runs, session):
    for subject, message in (
        ("8.8", "no requirement"),
        ("", "Name the requirement"),
        ("CRY-3/tls", "population is empty"),
    ):
        with pytest.raises(InvalidInput, match=message):
            sampling.draw(
                session,
                actor=Actor(workspace.auditor_principal),
                engagement_id=workspace.engagement_id,
                form=sampling.SampleForm(subject=subject),
                sizes=SIZES,
            )


# --- results and conclusion -------------------------------------------------------------------


def _record(workspace, sample, item_id, result, note=""):  # type: ignore[no-untyped-def]
    return sampling.record_result(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        sample_id=sample.id,
        item_id=item_id,
        result=result,
        note=note,
    )


def _conclude(workspace, sample, conclusion, note="Tested against the patch window."):  # type: ignore[no-untyped-def]
    return sampling.conclude(
        workspace.session,
        actor=Actor(workspace.auditor_principal),
        engagement_id=workspace.engagement_id,
        sample_id=sample.id,
        conclusion=conclusion,
        note=note,
    )


@pytest.mark.parametrize(("result", "note"), [("exception", ""), ("not_tested", "  "), ("passed", "fine")])
def test_an_exception_or_not_tested_needs_a_note(workspace, runs, session, result, note):
    sample = _draw(workspace, seed="3")
    first = _items(session, sample)[0]
    with pytest.raises(InvalidInput) as refused:
        _record(workspace, sample, first, result, note)
    assert {e["location"] for e in refused.value.errors} == {"result" if result == "passed" else "note"}
    assert session.get(SampleItem, (sample.id, first)).result is None


def test_the_conclusion_needs_every_item_tested_and_no_effective_with_exceptions(workspace, runs, session):
    sample = _draw(workspace, seed="3")
    drawn = _items(session, sample)
    for item in drawn[:3]:
        _record(workspace, sample, item, "effective")
    _record(workspace, sample, drawn[3], "exception", "Security updates pending for 12 days.")
    with pytest.raises(InvalidInput, match="still open: item 5"):
        _conclude(workspace, sample, "effective_with_exceptions")
    _record(workspace, sample, drawn[4], "not_tested", "The run's report was not readable.")
    with pytest.raises(InvalidInput, match="has exceptions"):
        _conclude(workspace, sample, "effective")
    with pytest.raises(InvalidInput) as refused:
        _conclude(workspace, sample, "effective_with_exceptions", note="")
    assert {e["location"] for e in refused.value.errors} == {"conclusion_note"}
    concluded = _conclude(workspace, sample, "effective_with_exceptions")
    assert concluded.conclusion == "effective_with_exceptions" and concluded.concluded_by == workspace.auditor.id
    with pytest.raises(Conflict):
        _record(workspace, sample, drawn[0], "exception", "changed my mind")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("sample.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["sample.draw"] + ["sample.result"] * 5 + ["sample.conclude"]


# --- the pages ----------------------------------------------------------------------------------


def test_the_pages_draw_record_conclude_and_show_errors_at_the_field(workspace, runs, login_as, session):
    client = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}/samples"
    drawn = client.post(base, data={"subject": "OPS-2/patches", "method": "random", "seed": "12345"})
    assert drawn.status_code == 303
    url = drawn.headers["location"]
    page = client.get(url)
    assert page.status_code == 200 and "12345" in page.text and "weekly (every 7 days): 5 to 15" in page.text
    first = random.Random(12345).sample(runs, 5)[0]
    refused = client.post(f"{url}/items/{first}/result", data={"result": "exception", "note": ""})
    assert refused.status_code == 422
    row = re.search(rf'<tr id="item-{first}".*?</tr>', refused.text, re.S).group(0)  # type: ignore[union-attr]
    assert 'class="field-error">Describe the exception' in row
    not_concluded = client.post(f"{url}/conclude", data={"conclusion": "effective", "conclusion_note": "ok"})
    assert not_concluded.status_code == 422
    assert re.search(r'id="conclusion-error" class="field-error">Record a result for every item', not_concluded.text)
    assert client.post(f"{url}/items/{first}/result", data={"result": "effective"}).status_code == 303
    listing = client.get(base).text
    assert "OPS-2/patches" in listing and "5 of 20" in listing
    refused_draw = client.post(base, data={"subject": "OPS-2/patches", "size": "50"})
    assert refused_draw.status_code == 422 and 'id="size-error"' in refused_draw.text


@pytest.mark.parametrize("role", ["it", "admin", "management"])
def test_only_auditors_draw_and_record(workspace, runs, login_as, role):
    sample = _draw(workspace, seed="5")
    client = login_as(role)
    base = f"/engagements/{workspace.engagement_id}/samples"
    assert client.post(base, data={"subject": "OPS-2/patches"}).status_code == 403
    item = _items(workspace.session, sample)[0]
    assert client.post(f"{base}/{sample.id}/items/{item}/result", data={"result": "effective"}).status_code == 403
    assert client.post(f"{base}/{sample.id}/conclude", data={"conclusion": "effective"}).status_code == 403


def test_an_auditor_of_another_engagement_gets_404(workspace, runs, login_as, make_user):
    sample = _draw(workspace, seed="5")
    stranger = login_as(make_user("auditor"))
    base = f"/engagements/{workspace.engagement_id}/samples/{sample.id}"
    item = _items(workspace.session, sample)[0]
    assert stranger.get(base).status_code == 404
    assert stranger.get(f"{base}/sheet.xlsx").status_code == 404
    assert stranger.post(f"{base}/items/{item}/result", data={"result": "effective"}).status_code == 404
    assert (
        stranger.post(f"{base}/conclude", data={"conclusion": "effective", "conclusion_note": "x"}).status_code == 404
    )


# --- a finding from an exception, and the sheet -------------------------------------------------


def test_an_exception_raises_a_finding_prefilled_and_linked_to_its_items(workspace, runs, login_as, session):
    sample = _draw(workspace, seed="9")
    drawn = _items(session, sample)
    _record(workspace, sample, drawn[1], "exception", "Security updates pending for 12 days on web1.")
    _record(workspace, sample, drawn[0], "effective")
    client = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}"
    sample_page = client.get(f"{base}/samples/{sample.id}").text
    assert f"/findings/new?sample={sample.id}" in sample_page
    form = client.get(f"{base}/findings/new?sample={sample.id}")
    assert form.status_code == 200
    assert 'name="control_refs" value="8.8, 8.19, OPS-2"' in form.text
    assert "item 2: collector run" in form.text and "Security updates pending for 12 days on web1." in form.text
    assert f'name="sample" value="{sample.id}"' in form.text
    prefilled = sampling.finding_form(session, workspace.auditor_principal, workspace.engagement_id, sample.id)
    refused = client.post(f"{base}/findings/new", data={**vars(prefilled), "title": "", "sample": sample.id})
    assert refused.status_code == 422 and 'id="title-error"' in refused.text
    assert session.get(SampleItem, (sample.id, drawn[1])).finding_id is None
    created = client.post(f"{base}/findings/new", data={**vars(prefilled), "severity": "high", "sample": sample.id})
    assert created.status_code == 303
    finding = session.scalars(select(Finding).where(Finding.title == prefilled.title)).one()
    assert created.headers["location"] == f"{base}/findings/{finding.id}"
    assert (finding.severity, finding.category, finding.status) == ("high", "minor_nc", "open")
    assert session.get(SampleItem, (sample.id, drawn[1])).finding_id == finding.id
    assert session.get(SampleItem, (sample.id, drawn[0])).finding_id is None
    finding_page = client.get(f"{base}/findings/{finding.id}").text
    assert f"sample #{sample.id}, item 2" in finding_page
    detail = json.loads(session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "sample.finding")).one())
    assert detail["finding"] == finding.id and detail["items"] == [drawn[1]]
    # Every exception has its finding now: nothing left to raise one from.
    assert client.get(f"{base}/findings/new?sample={sample.id}").status_code == 409


def test_the_sheet_exports_to_xlsx_with_every_result(workspace, runs, login_as, session):
    sample = _draw(workspace, seed="11")
    drawn = _items(session, sample)
    _record(workspace, sample, drawn[0], "exception", "=1+1 pending updates")  # text, never a formula
    for item in drawn[1:4]:
        _record(workspace, sample, item, "effective")
    _record(workspace, sample, drawn[4], "not_tested", "Report unreadable.")
    _conclude(workspace, sample, "not_effective", "One run in five shows overdue updates.")
    response = login_as(workspace.auditor).get(f"/engagements/{workspace.engagement_id}/samples/{sample.id}/sheet.xlsx")
    assert (
        response.status_code == 200 and f'filename="sample-{sample.id}.xlsx"' in response.headers["content-disposition"]
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    summary = {sheet.cell(row, 1).value: sheet.cell(row, 2).value for row in range(1, 16)}
    assert summary["Sample"] == sample.id and summary["Seed"] == "11" and summary["Size"] == 5
    assert summary["Size rule"] == "weekly (every 7 days): 5 to 15" and summary["Conclusion"] == "Not effective"
    assert summary["Conclusion note"] == "One run in five shows overdue updates."
    header = [cell.value for cell in sheet[17]]
    assert header[:8] == [
        "Item",
        "Occurrence",
        "Kind",
        "Run status",
        "Collected (UTC)",
        "Evidence items",
        "Result",
        "Note",
    ]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=18)]
    assert [r[1] for r in rows] == drawn
    assert rows[0][6:8] == ["Exception", "=1+1 pending updates"] and sheet.cell(18, 8).data_type == "s"
    assert rows[4][6:8] == ["Not tested", "Report unreadable."]
    assert rows[0][5] == ", ".join(f"#{i}" for i in range(drawn[0], drawn[0] - 3, -1))  # the run's three items
    assert rows[0][11].endswith(f"/evidence/{drawn[0]}")


SHEET_LABELS = [
    "Sample",
    "Engagement",
    "Requirement",
    "Population",
    "Population size",
    "Method",
    "Seed",
    "Size",
    "Size rule",
    "Drawn (UTC)",
    "Drawn by",
    "Conclusion",
    "Conclusion note",
    "Concluded (UTC)",
    "Concluded by",
]
SHEET_HEADER = [
    "Item",
    "Occurrence",
    "Kind",
    "Run status",
    "Collected (UTC)",
    "Evidence items",
    "Result",
    "Note",
    "Tested by",
    "Tested (UTC)",
    "Finding",
    "Link",
]


def test_the_sheet_speaks_the_readers_language_and_a_script_gets_english(workspace, runs, login_as, session):
    sample = _draw(workspace, seed="13")
    drawn = _items(session, sample)
    _record(workspace, sample, drawn[0], "exception", "Updates pending.")
    url = f"/engagements/{workspace.engagement_id}/samples/{sample.id}/sheet.xlsx"
    client = login_as(workspace.auditor)
    english = load_workbook(io.BytesIO(client.get(url).content)).active  # no Accept-Language: English
    assert english.title == f"Sample {sample.id}"
    assert [english.cell(row, 1).value for row in range(1, 16)] == SHEET_LABELS
    assert [cell.value for cell in english[17]] == SHEET_HEADER
    assert english.cell(12, 2).value == "not concluded" and english.cell(18, 7).value == "Exception"
    assert english.cell(19, 7).value == "not recorded"
    dutch = load_workbook(io.BytesIO(client.get(url, headers={"Accept-Language": "nl"}).content)).active
    assert dutch.title == f"Steekproef {sample.id}"
    assert [dutch.cell(row, 1).value for row in (1, 2, 5, 11, 13)] == [
        "Steekproef",
        "Audit",
        "Omvang van de populatie",
        "Getrokken door",
        "Toelichting bij de conclusie",
    ]
    assert [cell.value for cell in dutch[17]][:7] == [
        "Item",
        "Voorkomen",
        "Soort",
        "Status van de run",
        "Verzameld (UTC)",
        "Bewijsstukken",
        "Resultaat",
    ]
    assert dutch.cell(12, 2).value == "niet afgesloten" and dutch.cell(19, 7).value == "niet vastgelegd"
    # the values are as recorded: ids, the seed, what the auditor typed
    assert [dutch.cell(row, 2).value for row in (1, 7)] == [english.cell(row, 2).value for row in (1, 7)]
    assert dutch.cell(18, 8).value == "Updates pending." and dutch.cell(18, 2).value == english.cell(18, 2).value
