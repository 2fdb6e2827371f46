"""The coverage rules of docs/coverage.md, status by status, with the edge cases the auditor relies on.

These tests exercise the rules through the Annex 2 measures, so the library's own requirements
are switched off here (tests/coverage/test_library.py covers the library and switching off)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event

from audit_portal.clock import utcnow
from audit_portal.coverage.service import compute_coverage
from audit_portal.engagements.models import Engagement, EvidenceReview
from audit_portal.evidence import service as evidence_service
from audit_portal.evidence.models import EvidenceSignoff
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from audit_portal.soa.models import SoaEntry
from tests.coverage.conftest import control_id
from tests.factories import at, switch_off_library


@pytest.fixture(autouse=True)
def measures_only(catalogue):
    switch_off_library(catalogue)


START = date(2026, 1, 1)
END = date(2026, 12, 31)
AS_OF = date(2026, 6, 30)


def coverage(session, framework="iso27001-2022", as_of=AS_OF, **kwargs):
    return compute_coverage(session, framework_key=framework, period_start=START, period_end=END, as_of=as_of, **kwargs)


def status_of(report, ref):
    return next(c for c in report.controls if c.ref == ref)


def test_missing_when_no_evidence_in_the_period(catalogue):
    control = status_of(coverage(catalogue), "8.8")
    assert control.status == "missing"
    assert control.reason.english == "requirement OPS-2/patches: no evidence in the period (frequency 7 d, grace 2 d)"


def test_met_exactly_at_the_boundary_and_stale_one_day_later(catalogue, add_evidence):
    # OPS-2/patches: 7 days plus 2 days of grace.
    add_evidence("OPS-2/patches", AS_OF - timedelta(days=9))
    control = status_of(coverage(catalogue), "8.8")
    assert control.status == "covered"
    assert control.requirements[0].reason.english == (
        "requirement OPS-2/patches: newest evidence 2026-06-21, 9 days old, frequency 7 d, grace 2 d; fresh until 2026-06-30"
    )
    stale = status_of(coverage(catalogue, as_of=AS_OF + timedelta(days=1)), "8.8")
    assert stale.status == "stale"
    assert "10 days old" in stale.reason.english and "stale since 2026-07-01" in stale.reason.english


def test_evidence_outside_the_period_does_not_count(catalogue, add_evidence):
    add_evidence("OPS-2/patches", START - timedelta(days=1))  # before the period
    add_evidence("OPS-2/patches", AS_OF + timedelta(days=1))  # after the as-of date
    control = status_of(coverage(catalogue, as_of=START + timedelta(days=3)), "8.8")
    assert control.status == "missing"
    assert control.evidence_count == 0


def test_as_of_is_capped_at_the_period_end(catalogue, add_evidence):
    add_evidence("OPS-2/patches", END - timedelta(days=2))
    report = compute_coverage(
        catalogue, framework_key="iso27001-2022", period_start=START, period_end=END, as_of=END + timedelta(days=60)
    )
    assert report.as_of == END
    assert status_of(report, "8.8").status == "covered"


def test_rejected_evidence_stops_counting_in_that_engagement_only(catalogue, add_evidence):
    evidence = add_evidence("OPS-2/patches", AS_OF - timedelta(days=1))
    engagement = Engagement(
        name="Surveillance 2026", framework_key="iso27001-2022", period_start=START, period_end=END, created_at=utcnow()
    )
    other = Engagement(
        name="Internal audit", framework_key="iso27001-2022", period_start=START, period_end=END, created_at=utcnow()
    )
    catalogue.add_all([engagement, other])
    catalogue.flush()
    catalogue.add(
        EvidenceReview(engagement_id=engagement.id, evidence_id=evidence.id, status="rejected", reviewed_at=utcnow())
    )
    catalogue.add(
        EvidenceReview(engagement_id=other.id, evidence_id=evidence.id, status="accepted", reviewed_at=utcnow())
    )
    catalogue.flush()
    assert status_of(coverage(catalogue, engagement_id=engagement.id), "8.8").status == "missing"
    assert status_of(coverage(catalogue, engagement_id=other.id), "8.8").status == "covered"


def test_superseded_evidence_gives_way_to_its_correction(catalogue, add_evidence):
    fresh_but_wrong = add_evidence("OPS-2/patches", AS_OF - timedelta(days=1))
    older_correction = add_evidence("OPS-2/patches", AS_OF - timedelta(days=20), supersedes_id=fresh_but_wrong.id)
    fresh_but_wrong.superseded_at = at(date(2026, 7, 5))
    catalogue.flush()
    # Until the correction was made, the superseded item counted.
    before = status_of(coverage(catalogue, as_of=AS_OF), "8.8")
    assert before.status == "covered"
    assert before.requirements[0].newest_evidence_ids == (fresh_but_wrong.id,)
    # From then on only the correction counts, and it is stale.
    after = status_of(coverage(catalogue, as_of=date(2026, 7, 6)), "8.8")
    assert after.status == "stale"
    assert after.requirements[0].newest_evidence_ids == (older_correction.id,)


def test_corrupted_evidence_stops_counting_until_it_is_repaired(catalogue, add_evidence):
    older = add_evidence("OPS-2/patches", AS_OF - timedelta(days=20))
    newest = add_evidence("OPS-2/patches", AS_OF - timedelta(days=1))
    newest.sha256 = "ab" * 32  # an object of its own, so marking it leaves the older item alone
    catalogue.flush()
    assert status_of(coverage(catalogue), "8.8").status == "covered"

    assert evidence_service.mark_corrupted(catalogue, newest.sha256, reason="scrub: hash mismatch") == [newest.id]
    damaged = status_of(coverage(catalogue), "8.8")
    assert damaged.status == "stale"
    assert damaged.evidence_count == 1
    assert damaged.requirements[0].newest_evidence_ids == (older.id,)

    evidence_service.mark_corrupted(catalogue, older.sha256, reason="scrub: hash mismatch")
    assert status_of(coverage(catalogue), "8.8").status == "missing"

    evidence_service.mark_repaired(catalogue, newest.sha256, actor=Actor.system("test"))
    repaired = status_of(coverage(catalogue), "8.8")
    assert repaired.status == "covered"
    assert repaired.requirements[0].newest_evidence_ids == (newest.id,)


def test_failing_when_newest_evidence_carries_an_open_high_finding(catalogue, add_evidence):
    older = add_evidence("OPS-2/patches", AS_OF - timedelta(days=5))
    newest = add_evidence("OPS-2/patches", AS_OF - timedelta(days=1), collector_run_id=41)
    high_on_older = Finding(
        source="collector", title="old problem", severity="critical", evidence_id=older.id, created_at=utcnow()
    )
    medium_on_newest = Finding(
        source="collector", title="minor", severity="medium", last_run_id=41, created_at=utcnow()
    )
    catalogue.add_all([high_on_older, medium_on_newest])
    catalogue.flush()
    assert status_of(coverage(catalogue), "8.8").status == "covered"

    high_on_newest = Finding(
        source="collector",
        title="security updates pending 12 days",
        severity="high",
        last_run_id=41,
        created_at=utcnow(),
    )
    catalogue.add(high_on_newest)
    catalogue.flush()
    control = status_of(coverage(catalogue), "8.8")
    assert control.status == "failing"
    assert control.requirements[0].failing_finding_ids == (high_on_newest.id,)
    assert newest.id in control.requirements[0].newest_evidence_ids

    high_on_newest.status = "closed"
    catalogue.flush()
    assert status_of(coverage(catalogue), "8.8").status == "covered"


def test_partial_when_some_but_not_all_requirements_are_met(catalogue, add_evidence):
    add_evidence("POL-1/policy-document", AS_OF - timedelta(days=30))
    control = status_of(coverage(catalogue), "5.1")  # POL-1 and POL-2 map to 5.1
    assert control.status == "partial"
    assert control.reason.english.startswith("1 of 2 requirements met; requirement POL-2/policy-review: no evidence")
    assert {r.via_measure for r in control.requirements} == {"POL-1", "POL-2"}


def test_stale_when_none_met_but_some_stale(catalogue, add_evidence):
    add_evidence("OPS-2/patches", START)
    control = status_of(coverage(catalogue, as_of=END), "8.8")
    assert control.status == "stale"
    assert control.reason.english.startswith("requirement OPS-2/patches: newest evidence 2026-01-01, 364 days old")


def test_needs_signoff_until_a_person_signs(catalogue, add_evidence):
    for key in ("ACC-1/firewall", "COM-1/firewall-review", "COM-2/firewall"):
        add_evidence(key, AS_OF - timedelta(days=3))
    control = status_of(coverage(catalogue), "8.20")
    review = next(r for r in control.requirements if r.key == "COM-1/firewall-review")
    assert review.status == "awaiting_signoff"
    assert control.status == "partial"

    catalogue.add(
        EvidenceSignoff(
            evidence_id=review.newest_evidence_ids[0],
            signed_by_id=_user(catalogue),
            signed_at=utcnow(),
            remark="rules reviewed, 2 removed",
        )
    )
    catalogue.flush()
    assert status_of(coverage(catalogue), "8.20").status == "covered"


def test_no_requirement_and_not_applicable(catalogue):
    report = coverage(catalogue)
    no_measure = status_of(report, "5.5")  # contact with authorities: no measure maps to it, library off
    assert no_measure.status == "no_requirement"
    assert no_measure.reason.english.startswith("every requirement is switched off (5.5/authority-contacts: ")
    assert [o.key for o in no_measure.switched_off] == ["5.5/authority-contacts"]
    excluded = control_id(catalogue, "iso27001-2022", "7.4")
    catalogue.add(
        SoaEntry(control_id=excluded, applicable=False, justification="No premises to monitor", updated_at=utcnow())
    )
    catalogue.flush()
    report = coverage(catalogue)
    assert status_of(report, "7.4").status == "not_applicable"
    assert report.applicable == 92
    assert report.percent == 0.0


def test_2013_control_is_not_applicable_when_all_its_successors_are_excluded(catalogue):
    # A.11.1.3 (securing offices, rooms and facilities) corresponds to 7.3 only.
    seven_three = control_id(catalogue, "iso27001-2022", "7.3")
    catalogue.add(
        SoaEntry(
            control_id=seven_three, applicable=False, justification="Fully outsourced hosting", updated_at=utcnow()
        )
    )
    catalogue.flush()
    assert status_of(coverage(catalogue, framework="iso27001-2013"), "A.11.1.3").status == "not_applicable"


def test_measures_have_their_own_coverage(catalogue, add_evidence):
    add_evidence("BCM-1/backup", AS_OF)
    report = coverage(catalogue, framework="annex2")
    assert len(report.controls) == 34
    assert status_of(report, "BCM-1").status == "partial"  # backup fresh, restore test missing
    assert status_of(report, "POL-1").status == "missing"


def test_percent_is_covered_over_applicable(catalogue, add_evidence):
    add_evidence("OPS-2/patches", AS_OF)
    report = coverage(catalogue)
    assert report.covered == 2  # 8.8 and 8.19 both rest on OPS-2/patches
    assert report.percent == round(100 * 2 / 93, 1)
    assert sum(report.counts.values()) == 93


def test_query_count_does_not_grow_with_controls_or_evidence(catalogue, add_evidence):
    def statements(**kwargs) -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        connection = catalogue.connection()
        event.listen(connection, "before_cursor_execute", listener)
        try:
            coverage(catalogue, **kwargs)
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        return len(seen)

    add_evidence("OPS-2/patches", START)
    few = statements()
    for day in range(60):
        for key in ("OPS-2/patches", "PHY-3/backup", "BCM-1/backup", "ACC-1/firewall"):
            add_evidence(key, START + timedelta(days=day))
    many = statements()
    assert few == many
    assert many <= 10
    assert statements(framework="iso27001-2013") == many + 1  # the successor lookup for SoA


def _user(session) -> int:
    from audit_portal.auth.models import UserAccount

    user = UserAccount(
        username="it.ops", role="it", password_hash="x", password_changed_at=utcnow(), created_at=utcnow()
    )
    session.add(user)
    session.flush()
    return user.id
