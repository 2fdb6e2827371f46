"""The requirement library in coverage: library requirements count like any other, a switched-off
requirement is left out with its reason, and switching off can never make a control covered by
itself: a control with every requirement off is "no requirement" and the denominator stays."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from audit_portal.audit.models import AuditEvent
from audit_portal.catalogue import library
from audit_portal.catalogue.models import Requirement, RequirementSwitchOff
from audit_portal.coverage.service import NO_REQUIREMENT, compute_coverage
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.principals import Actor, Principal

START = date(2026, 1, 1)
END = date(2026, 12, 31)
AS_OF = date(2026, 6, 30)
ADMIN = Principal(role="admin", username="admin.test")


def coverage(session, framework="iso27001-2022", kind="controls"):
    return compute_coverage(
        session, framework_key=framework, period_start=START, period_end=END, as_of=AS_OF, kind=kind
    )


def control(report, ref):
    return next(c for c in report.controls if c.ref == ref)


def test_a_control_without_a_measure_is_proven_by_its_library_requirement(catalogue, add_evidence):
    assert control(coverage(catalogue), "5.5").status == "missing"  # contact with authorities: no measure
    add_evidence("5.5/authority-contacts", AS_OF - timedelta(days=10))
    proven = control(coverage(catalogue), "5.5")
    assert proven.status == "covered"
    assert [r.key for r in proven.requirements] == ["5.5/authority-contacts"]


def test_library_and_measure_requirements_both_count(catalogue, add_evidence):
    add_evidence("OPS-2/patches", AS_OF)
    both = control(coverage(catalogue), "8.8")
    assert {r.key for r in both.requirements} == {"8.8/vulnerabilities", "OPS-2/patches"}
    assert both.status == "partial"


def test_clauses_have_their_own_coverage(catalogue, add_evidence):
    clauses = coverage(catalogue, kind="clauses")
    assert len(clauses.controls) == 25 and clauses.applicable == 25
    assert all(c.ref.startswith("C.") for c in clauses.controls)
    add_evidence("C.9.3/management-review", AS_OF - timedelta(days=30))
    assert control(coverage(catalogue, kind="clauses"), "C.9.3").status == "covered"
    assert len(coverage(catalogue).controls) == 93  # Annex A is unchanged by the clauses
    assert len(coverage(catalogue, framework="iso27001-2013", kind="clauses").controls) == 24


def test_switching_off_every_requirement_gives_no_requirement_never_covered(catalogue, add_evidence):
    before = coverage(catalogue)
    library.switch_off(
        catalogue,
        key="5.5/authority-contacts",
        reason="We have no regulator to keep contact with.",
        actor=Actor(ADMIN),
    )
    after = coverage(catalogue)
    off = control(after, "5.5")
    assert off.status == NO_REQUIREMENT
    assert "We have no regulator" in off.reason.english
    assert [(o.key, o.reason, o.switched_off_by) for o in off.switched_off] == [
        ("5.5/authority-contacts", "We have no regulator to keep contact with.", "admin.test")
    ]
    assert (after.applicable, after.covered) == (before.applicable, before.covered)


def test_switching_off_never_raises_a_figure_on_random_data(catalogue, add_evidence):
    """Random evidence, then random controls with every requirement switched off: the denominator
    never moves and no switched-off control counts as covered."""
    rng = random.Random(14)
    requirements = catalogue.scalars(select(Requirement)).all()
    for requirement in rng.sample(requirements, 120):
        add_evidence(requirement.key, AS_OF - timedelta(days=rng.randint(0, 170)))
    before = coverage(catalogue)
    controls = [c for c in before.controls if c.requirements]
    chosen = rng.sample(controls, 25)
    for chosen_control in chosen:
        for requirement in chosen_control.requirements:
            if requirement.via_measure is None:
                library.switch_off(
                    catalogue,
                    key=requirement.key,
                    reason="random test: does not apply here",
                    actor=Actor(ADMIN),
                )
    after = coverage(catalogue)
    assert after.applicable == before.applicable
    for chosen_control in chosen:
        now = control(after, chosen_control.ref)
        if all(r.via_measure is None for r in chosen_control.requirements):
            assert now.status == NO_REQUIREMENT
        assert now.status != "covered" or all(r.status == "met" for r in now.requirements)
    assert after.covered <= before.covered + sum(1 for c in chosen if any(r.via_measure for r in c.requirements))


class TestSwitchingService:
    def test_a_reason_is_required_and_nothing_changes_without_one(self, catalogue):
        with pytest.raises(InvalidInput):
            library.switch_off(catalogue, key="5.5/authority-contacts", reason="  ", actor=Actor(ADMIN))
        assert catalogue.scalars(select(RequirementSwitchOff)).all() == []

    def test_measures_keep_their_own_requirements(self, catalogue):
        with pytest.raises(InvalidInput, match="own measures"):
            library.switch_off(catalogue, key="OPS-2/patches", reason="a long enough reason", actor=Actor(ADMIN))

    def test_unknown_key(self, catalogue):
        with pytest.raises(NotFound):
            library.switch_off(catalogue, key="9.9/nothing", reason="a long enough reason", actor=Actor(ADMIN))

    def test_off_and_on_again_are_audited(self, catalogue):
        library.switch_off(
            catalogue,
            key="C.9.3/management-review",
            reason="review held by the group board",
            actor=Actor(ADMIN),
        )
        library.switch_on(catalogue, key="C.9.3/management-review", actor=Actor(ADMIN))
        events = catalogue.scalars(
            select(AuditEvent).where(AuditEvent.object_id == "C.9.3/management-review").order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["requirement.switch_off", "requirement.switch_on"]
        assert json.loads(events[0].detail)["reason"] == "review held by the group board"
        assert catalogue.scalars(select(RequirementSwitchOff)).all() == []


class TestSwitchingPages:
    def test_admin_switches_off_and_the_reason_shows(self, catalogue, login_as):
        admin = login_as("admin")
        response = admin.post(
            "/catalogue/requirements/switch-off",
            data={"key": "5.5/authority-contacts", "reason": "No regulator oversees us."},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/catalogue/iso27001-2022/5.5#requirements"
        page = admin.get("/catalogue/iso27001-2022/5.5").text
        assert 'data-switched-off="5.5/authority-contacts"' in page and "No regulator oversees us." in page
        assert (
            admin.post("/catalogue/requirements/switch-on", data={"key": "5.5/authority-contacts"}).status_code == 303
        )
        assert 'data-switched-off="5.5/authority-contacts"' not in admin.get("/catalogue/iso27001-2022/5.5").text

    def test_a_blank_reason_is_refused_in_the_page(self, catalogue, login_as):
        response = login_as("admin").post(
            "/catalogue/requirements/switch-off", data={"key": "5.5/authority-contacts", "reason": ""}
        )
        assert response.status_code == 422
        assert "Say why this requirement does not apply" in response.text
        assert catalogue.scalars(select(RequirementSwitchOff)).all() == []

    @pytest.mark.parametrize("role", ["it", "auditor", "management"])
    def test_only_admins_switch(self, catalogue, login_as, role):
        response = login_as(role).post(
            "/catalogue/requirements/switch-off", data={"key": "5.5/authority-contacts", "reason": "not for this role"}
        )
        assert response.status_code == 403
        assert catalogue.scalars(select(RequirementSwitchOff)).all() == []


def test_the_engagement_shows_switched_off_requirements_and_the_clause_tab(catalogue, login_as, add_evidence):
    from audit_portal.clock import utcnow
    from audit_portal.engagements.models import Engagement

    library.switch_off(catalogue, key="5.5/authority-contacts", reason="No regulator oversees us.", actor=Actor(ADMIN))
    today = utcnow().date()
    add_evidence("C.4.3/scope", today - timedelta(days=5))
    engagement = Engagement(
        name="Audit",
        framework_key="iso27001-2022",
        period_start=today - timedelta(days=100),
        period_end=today,
        created_at=utcnow(),
    )
    catalogue.add(engagement)
    catalogue.commit()
    admin = login_as("admin")
    control_page = admin.get(f"/engagements/{engagement.id}/controls/5.5").text
    assert 'data-switched-off="5.5/authority-contacts"' in control_page and "No regulator oversees us." in control_page
    table = admin.get(f"/engagements/{engagement.id}/controls").text
    assert "1 requirement switched off" in table
    clauses = admin.get(f"/engagements/{engagement.id}/clauses").text
    assert clauses.count('<tr id="control-C.') == 25 and '<tr id="control-5.1"' not in clauses
    assert "applicable clauses), as of" in clauses
    assert admin.get(f"/engagements/{engagement.id}/controls/C.4.3").status_code == 200
