"""Sampling: a recorded seed reproduces the sample; the sample is kept with the engagement."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.engagements import sampling
from audit_portal.engagements.sample_models import Sample, SampleItem
from audit_portal.errors import InvalidInput


@pytest.fixture
def patch_reports(add_evidence):  # type: ignore[no-untyped-def]
    items = [add_evidence("OPS-2/patches", days_ago=days) for days in range(1, 60, 5)]
    add_evidence("OPS-2/patches", days_ago=500)  # before the period: never in the population
    add_evidence("CRY-3/tls", days_ago=3)  # another requirement
    return items


def _draw(workspace, **form):  # type: ignore[no-untyped-def]
    return sampling.draw(
        workspace.session,
        principal=workspace.auditor_principal,
        engagement_id=workspace.engagement_id,
        form=sampling.SampleForm(**form),
        request=None,
    )


def _items(session, sample: Sample) -> list[int]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(SampleItem.evidence_id)
            .where(SampleItem.sample_id == sample.id)
            .order_by(SampleItem.position)
        )
    )


def test_the_sample_is_random_sample_over_the_population_ordered_by_id(
    workspace, patch_reports, session
):
    sample = _draw(workspace, subject="OPS-2/patches", size="4", seed="20260401")
    population = sorted(e.id for e in patch_reports)
    assert _items(session, sample) == random.Random(20260401).sample(population, 4)
    assert sample.population_size == len(population) == 12 and sample.seed == "20260401"


def test_the_same_seed_draws_the_same_sample_again(workspace, patch_reports, session):
    first = _draw(workspace, subject="OPS-2/patches", size="5", seed="7")
    second = _draw(workspace, subject="OPS-2/patches", size="5", seed="7")
    other = _draw(workspace, subject="OPS-2/patches", size="5", seed="8")
    assert _items(session, first) == _items(session, second) != _items(session, other)


def test_a_seed_is_generated_and_recorded_when_none_is_given(workspace, patch_reports, session):
    sample = _draw(workspace, subject="OPS-2/patches", size="3")
    assert 0 <= int(sample.seed) < 2**64
    assert _items(session, sample) == random.Random(int(sample.seed)).sample(
        sorted(e.id for e in patch_reports), 3
    )
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sample.draw")).one()
    assert sample.seed in event.detail and event.object_id == str(sample.id)


def test_a_control_population_includes_its_measures_requirements(workspace, patch_reports, session):
    sample = _draw(workspace, subject="8.8", size="12", seed="1")
    assert sorted(_items(session, sample)) == sorted(e.id for e in patch_reports)


def test_the_source_filter_narrows_the_population(workspace, patch_reports):
    with pytest.raises(InvalidInput, match="holds 0 item"):
        _draw(workspace, subject="OPS-2/patches", size="1", source_kind="collector")


@pytest.mark.parametrize(
    ("form", "location"),
    [
        ({"subject": "OPS-2/patches", "size": "13"}, "size"),
        ({"subject": "OPS-2/patches", "size": "0"}, "size"),
        ({"subject": "OPS-2/patches", "size": "three"}, "size"),
        ({"subject": "OPS-2/patches", "size": "2", "seed": str(2**64)}, "seed"),
        ({"subject": "NOPE-1/x", "size": "2"}, "subject"),
        ({"subject": "", "size": "2"}, "subject"),
    ],
)
def test_bad_draws_are_refused_and_keep_nothing(workspace, patch_reports, session, form, location):
    with pytest.raises(InvalidInput) as refused:
        _draw(workspace, **form)
    assert location in {e["location"] for e in refused.value.errors}
    assert session.scalars(select(Sample)).all() == []


def test_redraw_verifies_and_notices_a_changed_population(
    workspace, patch_reports, add_evidence, session
):
    sample = _draw(workspace, subject="OPS-2/patches", size="4", seed="99")
    _, _, same = sampling.verify(
        session,
        principal=workspace.auditor_principal,
        engagement_id=workspace.engagement_id,
        sample_id=sample.id,
        request=None,
    )
    assert same.matches and same.redrawn_ids == _items(session, sample)
    # The redraw applies the recorded seed to the population as it is now.
    add_evidence("OPS-2/patches", days_ago=2, title="late upload")
    _, _, changed = sampling.verify(
        session,
        principal=workspace.auditor_principal,
        engagement_id=workspace.engagement_id,
        sample_id=sample.id,
        request=None,
    )
    assert changed.population_size_now == 13 and changed.population_size_then == 12
    assert changed.redrawn_ids == random.Random(99).sample(
        sorted([e.id for e in patch_reports] + [_newest_id(session)]), 4
    )
    assert changed.matches == (changed.redrawn_ids == _items(session, sample))
    outcomes = session.scalars(
        select(AuditEvent.outcome)
        .where(AuditEvent.action == "sample.verify")
        .order_by(AuditEvent.id)
    ).all()
    assert outcomes[0] == "success"


def _newest_id(session) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    from audit_portal.evidence.models import Evidence

    return session.scalar(select(func.max(Evidence.id)))


def test_the_pages_draw_show_and_verify(workspace, patch_reports, login_as):
    client = login_as(workspace.auditor)
    base = f"/engagements/{workspace.engagement_id}/samples"
    drawn = client.post(base, data={"subject": "OPS-2/patches", "size": "3", "seed": "12345"})
    assert drawn.status_code == 303
    page = client.get(drawn.headers["location"])
    assert (
        page.status_code == 200
        and "12345" in page.text
        and "Redraw with the same seed" in page.text
    )
    verified = client.post(drawn.headers["location"] + "/verify", headers={"HX-Request": "true"})
    assert verified.status_code == 200 and "the same 3 item(s) in the same order" in verified.text
    listing = client.get(base).text
    assert "OPS-2/patches" in listing and "3 of 12" in listing
    refused = client.post(base, data={"subject": "OPS-2/patches", "size": "50"})
    assert refused.status_code == 422 and "draw at most that many" in refused.text


@pytest.mark.parametrize("role", ["it", "admin"])
def test_only_auditors_draw(workspace, patch_reports, login_as, role):
    assert (
        login_as(role)
        .post(
            f"/engagements/{workspace.engagement_id}/samples",
            data={"subject": "OPS-2/patches", "size": "1"},
        )
        .status_code
        == 403
    )


def test_a_later_change_of_the_engagement_period_does_not_change_a_drawn_population(
    workspace, patch_reports, session
):
    from audit_portal.engagements import service
    from audit_portal.engagements.models import Engagement

    sample = _draw(workspace, subject="OPS-2/patches", size="4", seed="5")
    engagement = session.get(Engagement, workspace.engagement_id)
    form = service.form_for(session, engagement)
    form.period_start = engagement.period_end.isoformat()
    service.update_engagement(
        session,
        engagement_id=engagement.id,
        form=form,
        principal=workspace.admin_principal,
        request=None,
    )
    _, _, result = sampling.verify(
        session,
        principal=workspace.auditor_principal,
        engagement_id=workspace.engagement_id,
        sample_id=sample.id,
        request=None,
    )
    assert result.matches and result.population_size_now == 12
