"""Demo step: the current surveillance audit, part-way through.

The demo auditor has reviewed some evidence (accepting four items and rejecting the Q2 restore
test, which partly failed), asked for two things (the office access review, answered; the
firewall rule reviews of every quarter, open and overdue) and recorded three findings: a minor
nonconformity on 8.20 for the missed quarter of firewall review, an observation on the
awareness cycle, and an opportunity for improvement on restore testing. It has also drawn a
random sample of the patch collector's weekly requirement (OPS-2/patches), tested every item
(one exception: a run that still saw security updates pending past the patch window), concluded
it "effective with exceptions" and raised a minor nonconformity from the exception.
"""

from __future__ import annotations

from datetime import timedelta

from audit_portal.auth import repository as accounts
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.demo_context import DemoContext
from audit_portal.engagements import sampling, scope, service
from audit_portal.engagements.models import Engagement
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.findings import lifecycle
from audit_portal.findings import repository as finding_repository
from audit_portal.findings import service as findings
from audit_portal.findings.models import FAILING_SEVERITIES
from audit_portal.principals import Actor, Principal
from audit_portal.requests import service as requests

ENGAGEMENT_NAME = "Surveillance audit 2026"
AUDITOR = "auditor.ext"
ADMIN = "admin"
IT = "it.ops"
ACCEPTED = (
    (
        "POL-1/policy-document",
        "Information security policy v4",
        "Current version, approved by the board.",
    ),
    (
        "POL-2/policy-review",
        "Minutes of the yearly policy review",
        "Review decisions match policy v4.",
    ),
    ("INC-1/incident-process", "Security incident and data breach procedure", None),
    ("BCM-1/restore-test", "Restore test Q4", "Full restore of all databases verified."),
)
REJECTED = (
    "BCM-1/restore-test",
    "Restore test Q2",
    (
        "Partly failed: the PostgreSQL dump of 'portal' was empty, so this test does not show a "
        "complete restore. The Q3 test covers the fix."
    ),
)


def _principal(context: DemoContext, username: str) -> Principal:
    user = accounts.user_by_username(context.session, username)
    if user is None:
        raise RuntimeError(f"the demo needs the user {username!r}; the users step runs first")
    return Principal(role=user.role, username=user.username, user_id=user.id)


def demo_engagement(context: DemoContext) -> None:
    """Engagement: the surveillance audit with reviews, requests and findings."""
    session = context.session
    auditor, admin, it = (_principal(context, name) for name in (AUDITOR, ADMIN, IT))
    today = context.now.date()
    engagement = service.create_engagement(
        session,
        actor=Actor(admin),
        form=service.EngagementForm(
            name=ENGAGEMENT_NAME,
            framework_key=service.FRAMEWORK_2022,
            period_start=(today - timedelta(days=365)).isoformat(),
            period_end=today.isoformat(),
            auditor_ids=[auditor.account_id],
            scope_note="The hosting platform and the software development of the organisation, both data centres.",
        ),
    )
    reviewed = _reviews(context, engagement, auditor)
    _requests(context, engagement, auditor, it)
    _findings(context, engagement, auditor, it)
    sampled = _sample(context, engagement, auditor)
    context.console.print(
        f"demo: engagement {ENGAGEMENT_NAME!r} with {reviewed} reviews, 2 evidence requests (one overdue), 3 findings"
        " (one remediated and awaiting verification, one with its action planned, one open)"
        + (f" and a tested sample of {SAMPLED} with a finding raised from its exception" if sampled else ""),
        highlight=False,
    )


def _evidence(context: DemoContext, engagement: Engagement, requirement_key: str, title: str) -> Evidence | None:
    requirement = catalogue_repository.requirements_by_key(context.session, [requirement_key]).get(requirement_key)
    if requirement is None:
        return None
    start, end = scope.engagement_window(engagement)
    for _, evidence in evidence_repository.evidence_history(context.session, [requirement.id], start, end):
        if evidence.title == title:
            return evidence
    return None


def _reviews(context: DemoContext, engagement: Engagement, auditor: Principal) -> int:
    """Reviews of the uploads the evidence step made; an item it did not make is left alone."""
    decisions = [(key, title, "accept", comment) for key, title, comment in ACCEPTED]
    decisions.append((REJECTED[0], REJECTED[1], "reject", REJECTED[2]))
    done = 0
    for key, title, decision, comment in decisions:
        evidence = _evidence(context, engagement, key, title)
        if evidence is None:
            continue
        service.review_evidence(
            context.session,
            actor=Actor(auditor),
            engagement_id=engagement.id,
            evidence_id=evidence.id,
            decision=decision,
            comment=comment,
        )
        done += 1
    return done


def _requests(context: DemoContext, engagement: Engagement, auditor: Principal, it: Principal) -> None:
    session = context.session
    today = context.now.date()
    answered = requests.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        subject="PHY-1/entry-control",
        question="Please provide the most recent review of office access badges, with who decided each badge is still needed.",
        due_date=(today + timedelta(days=7)).isoformat(),
    )
    badge_review = _evidence(context, engagement, "PHY-1/entry-control", "Office access badge review")
    if badge_review is not None:
        requests.answer(
            session,
            actor=Actor(it),
            engagement_id=engagement.id,
            request_id=answered.id,
            evidence_ids=[badge_review.id],
            note="Reviewed by R. Visser with the HR list of leavers.",
        )
    overdue = requests.create(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        subject="COM-1/firewall-review",
        question="Provide the firewall rule review of every quarter in the period, signed off, including the second quarter.",
        due_date=today.isoformat(),
    )
    # Asked three weeks ago with a two-week deadline: the demo shows an overdue request.
    overdue.created_at = context.now - timedelta(days=21)
    overdue.due_date = today - timedelta(days=7)
    session.add(overdue)
    session.flush()


def _findings(context: DemoContext, engagement: Engagement, auditor: Principal, it: Principal) -> None:
    """Three findings at three steps of their lifecycle: the missed firewall review planned and
    remediated by IT with the review's evidence (for the auditor to verify), the awareness
    observation with its action planned, and the improvement still open."""
    today = context.now.date()
    recorded = [
        findings.create(context.session, actor=Actor(auditor), engagement_id=engagement.id, form=form)
        for form in (
            findings.FindingForm(
                title="Firewall rule review missed for one quarter",
                detail="No firewall rule review was carried out in the second quarter of the period; the review "
                "procedure requires one every 90 days (measure COM-1).",
                category="minor_nc",
                control_refs="8.20, COM-1",
            ),
            findings.FindingForm(
                title="Awareness sessions less frequent than planned",
                detail="The last awareness session was more than 180 days ago, the interval the organisation set itself.",
                category="observation",
                control_refs="6.3, HR-3",
            ),
            findings.FindingForm(
                title="Report restore tests automatically",
                detail="Restore tests are reported by hand; the backup collector could produce the report with each test.",
                category="ofi",
                control_refs="8.13, BCM-1",
            ),
        )
    ]
    firewall, awareness, _improvement = recorded
    for finding, plan in (
        (
            firewall,
            lifecycle.Plan(
                owner="Head of operations (P. Bakker)",
                due_date=(today + timedelta(days=60)).isoformat(),
                root_cause="The quarterly review depended on one engineer, who was on leave for most of the quarter; "
                "no deputy was named.",
                corrective_action="Carry out the missed review now and record the sign-off (correction); schedule the "
                "quarterly review in the operations calendar with a named deputy (corrective action).",
            ),
        ),
        (
            awareness,
            lifecycle.Plan(
                owner="HR manager (S. de Boer)",
                due_date=(today + timedelta(days=90)).isoformat(),
                root_cause="The awareness programme has no calendar; sessions were planned when time allowed.",
                corrective_action="Put two sessions a year in the company calendar and track attendance.",
            ),
        ),
    ):
        lifecycle.plan(context.session, actor=Actor(it), engagement_id=engagement.id, finding_id=finding.id, plan=plan)
    review = _newest_evidence(context, engagement, "COM-1/firewall-review")
    if review is not None:
        lifecycle.remediate(
            context.session,
            actor=Actor(it),
            engagement_id=engagement.id,
            finding_id=firewall.id,
            note="The missed review was carried out and signed off; the quarterly review is in the operations "
            "calendar with a deputy.",
            evidence_ids=[str(review.id)],
        )


def _newest_evidence(context: DemoContext, engagement: Engagement, requirement_key: str) -> Evidence | None:
    requirement = catalogue_repository.requirements_by_key(context.session, [requirement_key]).get(requirement_key)
    if requirement is None:
        return None
    start, end = scope.engagement_window(engagement)
    history = evidence_repository.evidence_history(context.session, [requirement.id], start, end)
    return history[0][1] if history else None


SAMPLED = "OPS-2/patches"
FIRST_SEED = 20260101
SEEDS_TRIED = 200


def _sample(context: DemoContext, engagement: Engagement, auditor: Principal) -> bool:
    """A random sample of the weekly patch runs, tested: a run that still saw a serious collector
    finding (the summer backlog) is an exception, every other run is effective.

    So that the demo always shows an exception, the seed is the first from FIRST_SEED whose draw
    includes such a run; the recorded seed reproduces the sample like any other. Without patch
    runs in the period (the collection step did not run) there is no sample."""
    session = context.session
    sizes = context.settings.sample_sizes
    found = sampling.population(session, engagement, {"subject": SAMPLED})
    if not found.anchor_ids:
        return False
    rule = sampling.size_rule(found.requirement, len(found.anchor_ids), sizes)
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS_TRIED):
        drawn = sampling.draw_ids(found.anchor_ids, rule.bounds[0], seed)
        problems = {anchor: _serious_findings_seen(context, anchor) for anchor in drawn}
        if any(problems.values()):
            break
    else:
        return False
    sample = sampling.draw(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        form=sampling.SampleForm(subject=SAMPLED, seed=str(seed)),
        sizes=sizes,
    )
    for anchor in drawn:
        seen = problems[anchor]
        sampling.record_result(
            session,
            actor=Actor(auditor),
            engagement_id=engagement.id,
            sample_id=sample.id,
            item_id=anchor,
            result="exception" if seen else "effective",
            note=(
                "The run reports " + "; ".join(seen) + ": security updates were left pending past the seven-day "
                "patch window."
                if seen
                else "Run complete; no security update pending past the patch window."
            ),
        )
    sampling.conclude(
        session,
        actor=Actor(auditor),
        engagement_id=engagement.id,
        sample_id=sample.id,
        conclusion="effective_with_exceptions",
        note="Patching works as designed outside the summer backlog; the backlog is raised as a finding.",
    )
    form = sampling.finding_form(session, auditor, engagement.id, sample.id)
    form.category = "minor_nc"
    form.severity = "medium"
    sampling.raise_finding(session, actor=Actor(auditor), engagement_id=engagement.id, sample_id=sample.id, form=form)
    return True


def _serious_findings_seen(context: DemoContext, anchor_id: int) -> list[str]:
    evidence = evidence_repository.get_evidence(context.session, anchor_id)
    if evidence is None or evidence.collector_run_id is None or evidence.collector_instance is None:
        return []
    return [
        f.title
        for f in finding_repository.collector_findings_seen_in(
            context.session, evidence.collector_instance, evidence.collector_run_id
        )
        if f.severity in FAILING_SEVERITIES
    ]
