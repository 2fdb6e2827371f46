"""A firewall review as the catalogue promises it (COM-1/firewall-review): a decision per rule
(keep, change, remove; a reason for a change or removal), then the sign-off of the whole review,
refused while a rule is undecided; late sign-offs flagged on the run list, the run, evidence
and control pages; the decisions in the evidence package and on the audit trail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from audit_portal.audit.models import AuditEvent
from audit_portal.collection import repository, review, rule_review, service, views
from audit_portal.collection.models import RuleDecision
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import EvidenceSignoff
from audit_portal.principals import Actor, Principal
from collectors.options import HOST

RECORDINGS = Path(__file__).resolve().parents[1] / "collectors" / "recordings"
pytestmark = pytest.mark.usefixtures("catalogue")


@pytest.fixture
def firewall(session, settings):  # type: ignore[no-untyped-def]
    settings.collector_path_roots = (RECORDINGS.resolve(),)
    spec = service.InstanceSpec(
        name="fw-host-a",
        collector="firewall",
        timeout_seconds=60,
        config={
            "sources": [
                {
                    "type": "iptables",
                    "name": "host-a",
                    "path": str(RECORDINGS / "iptables" / "host-a.rules"),
                    "ipv6": False,
                }
            ]
        },
    )
    return service.save_instance(session, spec, settings=settings, origin=HOST, actor=Actor.system("test"))


def _run(scope, store, settings, now: datetime) -> int:  # type: ignore[no-untyped-def]
    report = service.run_instance(scope, store, settings, "fw-host-a", trigger="manual", now=now)
    assert report.status == "ok"
    return report.run_id


@pytest.fixture
def run_id(firewall, scope, store, settings) -> int:  # type: ignore[no-untyped-def]
    return _run(scope, store, settings, datetime.now(UTC) - timedelta(hours=1))


def _rules(session, store, run_id):  # type: ignore[no-untyped-def]
    return rule_review.rules_of(session, store, views.run_detail(session, run_id))


def _form(rules, decide) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The decision table as the browser posts it: rule, decision and reason per row, in order."""
    rows = [(str(rule.index), *decide(rule)) for rule in rules]
    return {"rule": [r[0] for r in rows], "decision": [r[1] for r in rows], "reason": [r[2] for r in rows]}


def _keep_all(rule):  # type: ignore[no-untyped-def]
    return ("keep", "")


def test_the_run_page_lists_every_rule_of_the_review(login_as, session, store, run_id):
    rules = _rules(session, store, run_id)
    assert len(rules) > 20 and any("--dport 3389" in rule.text for rule in rules)
    page = login_as("it").get(f"/runs/{run_id}").text
    assert page.count('class="rule-row undecided"') == len(rules)
    assert f"{len(rules)} of {len(rules)} rules without a decision" in page


def test_sign_off_is_refused_while_a_rule_has_no_decision(login_as, session, store, run_id):
    client = login_as("it")
    rules = _rules(session, store, run_id)
    first_half = {rule.index for rule in rules[: len(rules) // 2]}
    saved = client.post(
        f"/runs/{run_id}/rule-decisions",
        data=_form(rules, lambda r: ("keep", "") if r.index in first_half else ("", "")),
    )
    assert saved.status_code == 303
    refused = client.post(f"/runs/{run_id}/signoff", data={"remark": "Reviewed."})
    assert refused.status_code == 422
    undecided = len(rules) - len(first_half)
    # the error sits next to the sign-off field and says how many rules are open
    error = re.search(r'<span class="field-error" role="alert" id="signoff-error">([^<]*)', refused.text)
    assert error and f"{undecided} of {len(rules)} rules have no decision yet" in error.group(1)
    assert 'aria-describedby="signoff-error"' in refused.text
    assert session.exec(select(EvidenceSignoff)).all() == []


def test_a_change_or_removal_needs_its_reason_and_nothing_is_saved_without_it(login_as, session, store, run_id):
    client = login_as("it")
    rules = _rules(session, store, run_id)
    rdp = next(rule for rule in rules if "--dport 3389" in rule.text)
    refused = client.post(
        f"/runs/{run_id}/rule-decisions",
        data=_form(rules, lambda r: ("remove", "") if r.index == rdp.index else ("keep", "")),
    )
    assert refused.status_code == 422
    assert f'id="reason-error-{rdp.index}"' in refused.text and "a remove decision needs its reason" in refused.text
    assert session.exec(select(RuleDecision)).all() == []
    # what was chosen stays in the form
    assert '<option value="remove" selected>' in refused.text


def test_decided_and_signed_off_review_keeps_its_decisions_on_the_trail(login_as, session, store, run_id):
    client = login_as("it")
    rules = _rules(session, store, run_id)
    rdp = next(rule for rule in rules if "--dport 3389" in rule.text)
    reason = "Vendor session ended; removal in change CHG-2291."
    assert (
        client.post(
            f"/runs/{run_id}/rule-decisions",
            data=_form(rules, lambda r: ("remove", reason) if r.index == rdp.index else ("keep", "")),
        ).status_code
        == 303
    )
    assert client.post(f"/runs/{run_id}/signoff", data={"remark": "Every rule reviewed."}).status_code == 303
    rows = session.exec(select(RuleDecision).where(RuleDecision.run_id == run_id)).all()
    assert len(rows) == len(rules)
    removed = next(row for row in rows if row.rule_index == rdp.index)
    assert (removed.decision, removed.reason, removed.decided_by_id) == ("remove", reason, client.user.id)
    assert "--dport 3389" in removed.rule_text and removed.rule_label.startswith("host-a/ipv4:filter/INPUT")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "firewall_review.decisions")).one()
    assert event.object_id == str(run_id) and reason in event.detail
    signoff = session.exec(select(AuditEvent).where(AuditEvent.action == "collector_run.signoff")).one()
    assert '"late":false' in signoff.detail
    page = client.get(f"/runs/{run_id}").text
    assert "every rule decided" in page and reason in page and "signed off" in page
    assert 'action="/runs/' + str(run_id) + '/rule-decisions"' not in page  # final once signed off
    changed = client.post(f"/runs/{run_id}/rule-decisions", data=_form(rules, _keep_all))
    assert changed.status_code == 409


def test_only_it_decides_on_rules(login_as, session, store, run_id):
    rules = _rules(session, store, run_id)
    for role in ("admin", "auditor", "management"):
        assert login_as(role).post(f"/runs/{run_id}/rule-decisions", data=_form(rules, _keep_all)).status_code == 403


def _sign(session, store, run_id, user, at):  # type: ignore[no-untyped-def]
    principal = Principal(role="it", username=user.username, user_id=user.id)
    rules = _rules(session, store, run_id)
    rule_review.record_decisions(
        session,
        store,
        run_id,
        decisions=[(r.index, "keep", "") for r in rules],
        actor=Actor(principal),
        decided_at=at,
    )
    review.sign_off_run(session, run_id, remark="Reviewed.", actor=Actor(principal), store=store, signed_at=at)


def test_a_sign_off_after_the_grace_is_flagged_late(login_as, session, store, settings, scope, firewall, make_user):
    signer = make_user("it")
    now = datetime.now(UTC)
    late_run = _run(scope, store, settings, now - timedelta(days=40))
    timely_run = _run(scope, store, settings, now - timedelta(days=20))
    # COM-1/firewall-review allows 14 days of grace
    _sign(session, store, late_run, signer, now - timedelta(days=40) + timedelta(days=15))
    _sign(session, store, timely_run, signer, now - timedelta(days=20) + timedelta(days=13))
    session.commit()
    detail = views.instance_detail(session, "fw-host-a")
    assert detail.signoffs[late_run].late and detail.signoffs[late_run].days_after_run == 15
    assert not detail.signoffs[timely_run].late
    client = login_as("it")
    listing = client.get("/collectors/fw-host-a").text
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r'<a href="/runs/(\d+)">\d+</a>(.*?)</tr>', listing, re.S)}
    assert "signoff-late" in rows[late_run] and signer.username in rows[late_run]
    assert "signoff-late" not in rows[timely_run] and "signed off" in rows[timely_run]
    run_page = client.get(f"/runs/{late_run}").text
    assert "late" in run_page and "the requirement allows 14 days" in run_page
    evidence_id = evidence_repository.normalised_evidence(session, late_run).id
    evidence_page = client.get(f"/evidence/{evidence_id}").text
    assert f"by {signer.username} on" in evidence_page and 'class="chip stale">late' in evidence_page


def test_a_run_awaiting_sign_off_past_its_grace_shows_overdue(login_as, session, store, settings, scope, firewall):
    old = _run(scope, store, settings, datetime.now(UTC) - timedelta(days=30))
    fresh = _run(scope, store, settings, datetime.now(UTC) - timedelta(days=1))
    session.commit()
    listing = login_as("it").get("/collectors/fw-host-a").text
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r'<a href="/runs/(\d+)">\d+</a>(.*?)</tr>', listing, re.S)}
    assert "overdue" in rows[old] and "awaiting" in rows[fresh] and "overdue" not in rows[fresh]


def test_the_package_holds_the_sign_offs_and_rule_decisions(session, store, settings, scope, firewall, make_user):
    from audit_portal.export import reviews

    signer = make_user("it")
    at = datetime.now(UTC) - timedelta(days=3)
    run_id = _run(scope, store, settings, at)
    _sign(session, store, run_id, signer, at + timedelta(days=20))
    items = evidence_repository.evidence_of_run(session, run_id)
    signoffs, decisions = reviews.review_rows(session, [(e, ("COM-1/firewall-review",)) for e in items])
    assert len(signoffs) == 1
    row = dict(zip(reviews.SIGNOFF_COLUMNS, signoffs[0], strict=True))
    assert (row["run"], row["signed_by"], row["late"], row["grace_days"]) == (run_id, signer.username, "yes", 14)
    assert len(decisions) == len(_rules(session, store, run_id))
    assert {dict(zip(reviews.DECISION_COLUMNS, d, strict=True))["decision"] for d in decisions} == {"keep"}


def test_a_package_item_met_twice_counts_once_with_the_keys_of_both(
    session, store, settings, scope, firewall, make_user
):
    """An item in two folders of a package reaches the review rows twice; the run's grace is the
    shortest of all its requirements, whichever folder came first."""
    from audit_portal.export import reviews

    signer = make_user("it")
    at = datetime.now(UTC) - timedelta(days=3)
    run_id = _run(scope, store, settings, at)
    _sign(session, store, run_id, signer, at + timedelta(days=5))
    items = evidence_repository.evidence_of_run(session, run_id)
    twice = [(e, ("COM-1/firewall-review",)) for e in items] + [(e, ("ORG-2/advisories",)) for e in items]

    for given in (twice, list(reversed(twice))):
        signoffs, _ = reviews.review_rows(session, given)
        row = dict(zip(reviews.SIGNOFF_COLUMNS, signoffs[0], strict=True))
        assert (len(signoffs), row["grace_days"], row["late"]) == (1, 2, "yes")
        assert row["evidence_items"] == " ".join(str(e.id) for e in sorted(items, key=lambda e: e.id))


def test_the_auditors_control_page_shows_who_signed_off_when(
    login_as, session, store, settings, scope, firewall, make_user
):
    from audit_portal.engagements import service as engagements

    signer, auditor, admin = make_user("it"), make_user("auditor"), make_user("admin")
    today = datetime.now(UTC).date()
    form = engagements.EngagementForm(
        name="Surveillance audit",
        framework_key="iso27001-2022",
        period_start=(today - timedelta(days=90)).isoformat(),
        period_end=today.isoformat(),
        auditor_ids=[auditor.id],
    )
    engagement = engagements.create_engagement(
        session, form=form, actor=Actor(Principal(role="admin", username=admin.username, user_id=admin.id))
    )
    at = datetime.now(UTC) - timedelta(days=30)
    run_id = _run(scope, store, settings, at)
    _sign(session, store, run_id, signer, at + timedelta(days=16))
    session.commit()
    html = login_as(auditor).get(f"/engagements/{engagement.id}/controls/COM-1").text
    newest = html.split("<h4>Newest occurrence</h4>")[1].split('class="occurrences"')[0]
    assert newest.count(f"signed off by {signer.username} on") == 3  # raw, normalised and report
    assert newest.count('class="chip stale">late') == 3


def test_a_review_whose_rules_cannot_be_read_is_not_signed_off(login_as, session, store, run_id):
    store.delete(evidence_repository.normalised_evidence(session, run_id).store_key)
    client = login_as("it")
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "cannot be read from the evidence store" in page.text
    refused = client.post(f"/runs/{run_id}/signoff", data={"remark": "Reviewed."})
    assert refused.status_code == 422 and "cannot be read from the evidence store" in refused.text
    assert session.exec(select(EvidenceSignoff)).all() == []
