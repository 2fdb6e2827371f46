"""Coverage, exactly as docs/coverage.md ("The arithmetic") defines it.

For a framework, a period [start, end] and an as-of date T (default today, capped at end):

- a requirement is *met* when evidence linked to it, not rejected in the engagement and not
  superseded, was collected in [start, T] and its collection date + frequency + grace >= T;
  *stale* when its newest such evidence is older; *missing* when it has none in the period;
  *failing* when its newest evidence carries an open finding of severity high or above;
  *awaiting_signoff* when it needs a person's sign-off and its fresh evidence has none yet;
- a control is ``not_applicable`` when the SoA excludes it, ``no_requirement`` when nothing says
  how it is proven, else ``failing`` / ``covered`` / ``partial`` / ``stale`` / ``missing`` from
  its requirements (its own plus those of every measure mapped to it).

A requirement the organisation switched off (with a recorded reason) does not count for its
control; it is listed with its reason. A control whose requirements are all switched off is
``no_requirement``, never covered, so switching requirements off cannot raise a figure: the
denominator stays every applicable control.

:func:`coverage_as_of` is the one entry point for "a framework's coverage at a moment": the
dashboard, the trend, the daily snapshot, the monthly report, the SoA, the engagement tables and
the API all call it. Everything is computed from a fixed number of queries whatever the number of
controls, and none of them aggregates the evidence: the newest evidence per requirement comes from
the rollup (:mod:`audit_portal.coverage.rollup`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlmodel import Session

from audit_portal.catalogue.cache import catalogue_cache
from audit_portal.catalogue.models import KIND_CLAUSE, KIND_CONTROL, Requirement, RequirementSwitchOff
from audit_portal.clock import utcnow
from audit_portal.coverage import repository, rollup
from audit_portal.engagements.scope import CERTIFICATION_YEAR_DAYS, period_window
from audit_portal.i18n import N_, Phrase, Phrases

MET = "met"
STALE = "stale"
MISSING = "missing"
FAILING = "failing"
AWAITING_SIGNOFF = "awaiting_signoff"

COVERED = "covered"
PARTIAL = "partial"
NOT_APPLICABLE = "not_applicable"
NO_REQUIREMENT = "no_requirement"
CONTROL_STATUSES = (COVERED, PARTIAL, STALE, MISSING, FAILING, NO_REQUIREMENT, NOT_APPLICABLE)

FRAMEWORK_2022 = "iso27001-2022"
FRAMEWORK_2013 = "iso27001-2013"
# A figure without an engagement describes the certification year ending on its moment.
PARTS = (KIND_CONTROL, KIND_CLAUSE)

# The words pages, exports and the API use for each status (never the internal names).
STATUS_LABELS = {
    COVERED: N_("Covered"),
    PARTIAL: N_("Partial"),
    STALE: N_("Stale"),
    MISSING: N_("Missing"),
    FAILING: N_("Failing"),
    NO_REQUIREMENT: N_("No requirement"),
    NOT_APPLICABLE: N_("Not applicable"),
    MET: N_("Met"),
    AWAITING_SIGNOFF: N_("Awaiting sign-off"),
}


# Why a requirement or a control has its status: catalogue messages with their values, said in
# the reader's language on pages and in reports; ``str()`` (``.english``) is the English sentence
# the JSON API, the command line and the signed evidence package keep.
Reason = Phrase | Phrases

REASON_MESSAGES = {
    "cadence": N_("frequency %(frequency)s d, grace %(grace)s d"),
    "evidence_1": N_("newest evidence %(day)s, 1 day old, %(cadence)s"),
    "evidence": N_("newest evidence %(day)s, %(age)s days old, %(cadence)s"),
    MISSING: N_("requirement %(key)s: no evidence in the period (%(cadence)s)"),
    FAILING: N_("requirement %(key)s: %(evidence)s; it carries %(count)s open finding(s) of high severity or above"),
    STALE: N_("requirement %(key)s: %(evidence)s; stale since %(day)s"),
    AWAITING_SIGNOFF: N_("requirement %(key)s: %(evidence)s; awaiting a person's sign-off"),
    MET: N_("requirement %(key)s: %(evidence)s; fresh until %(day)s"),
    "all_switched_off": N_("every requirement is switched off (%(reasons)s)"),
    "no_requirement": N_("no requirement defines how this control is proven"),
    "covered_1": N_("all 1 requirement met"),
    "covered": N_("all %(total)s requirements met"),
    PARTIAL: N_("%(met)s of %(total)s requirements met; %(not_met)s"),
    "excluded": N_("excluded in the Statement of Applicability"),
    "successors_excluded": N_("every 2022 successor is excluded in the Statement of Applicability"),
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


@dataclass(frozen=True)
class SwitchedOffRequirement:
    requirement_id: int
    key: str
    title: str
    via_measure: str | None
    reason: str
    switched_off_by: str
    switched_off_at: datetime


@dataclass(frozen=True)
class RequirementCoverage:
    requirement_id: int
    key: str
    title: str
    collector: str
    frequency_days: int
    grace_days: int
    via_measure: str | None
    status: str
    reason: Reason
    newest_at: datetime | None
    newest_evidence_ids: tuple[int, ...]
    evidence_count: int
    failing_finding_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ControlCoverage:
    control_id: int
    ref: str
    title: str
    group_key: str
    status: str
    reason: Reason
    requirements: tuple[RequirementCoverage, ...]
    switched_off: tuple[SwitchedOffRequirement, ...] = ()

    @property
    def evidence_count(self) -> int:
        return sum(r.evidence_count for r in self.requirements)

    @property
    def newest_at(self) -> datetime | None:
        dates = [r.newest_at for r in self.requirements if r.newest_at]
        return max(dates) if dates else None


@dataclass(frozen=True)
class CoverageReport:
    framework_key: str
    period_start: date
    period_end: date
    as_of: date
    controls: tuple[ControlCoverage, ...]
    counts: dict[str, int] = field(default_factory=dict)
    kind: str = KIND_CONTROL  # Annex A controls (or measures), or the ISMS clauses

    @property
    def applicable(self) -> int:
        return sum(1 for c in self.controls if c.status != NOT_APPLICABLE)

    @property
    def covered(self) -> int:
        return sum(1 for c in self.controls if c.status == COVERED)

    @property
    def percent(self) -> float:
        """Covered / applicable controls, as a percentage (0 when nothing is applicable)."""
        return round(100 * self.covered / self.applicable, 1) if self.applicable else 0.0

    def by_id(self) -> dict[int, ControlCoverage]:
        return {c.control_id: c for c in self.controls}


CATALOGUE_KEY = "coverage"


class CatalogueControl(NamedTuple):
    """What coverage reads of a control. The cache holds plain tuples, not ORM copies: a table's
    computation reads the catalogue some 4,000 times, and each read of an ORM attribute went
    through SQLAlchemy's instrumentation."""

    id: int
    ref: str
    title: str
    group_key: str


class CatalogueRequirement(NamedTuple):
    """What coverage reads of a requirement (see :class:`CatalogueControl`)."""

    id: int
    key: str
    title: str
    collector: str
    frequency_days: int
    grace_days: int
    needs_signoff: bool
    position: int


class CatalogueLink(NamedTuple):
    """A requirement that proves a control, as :class:`repository.RequirementLink`, in plain tuples."""

    control_id: int
    requirement: CatalogueRequirement
    via_measure: str | None  # the Annex 2 measure that brings the requirement, if any
    switched_off: RequirementSwitchOff | None = None  # the organisation's decision that it does not apply


CatalogueRows = dict[str, tuple[dict[str, list[CatalogueControl]], list[CatalogueLink]]]


def _load_catalogue_rows(session: Session) -> CatalogueRows:
    """Every framework's controls (per kind: Annex A controls, clauses) and requirement links.
    Switch-offs are not catalogue data: they are read fresh on every computation."""
    rows: CatalogueRows = {}
    for framework_key in repository.framework_keys(session):
        controls = {
            kind: [
                CatalogueControl(c.id, c.ref, c.title, c.group_key)
                for c in repository.framework_controls(session, framework_key, kind)
            ]
            for kind in PARTS
        }
        links = [
            CatalogueLink(link.control_id, _catalogue_requirement(link.requirement), link.via_measure)
            for link in repository.requirement_links(session, framework_key)
        ]
        rows[framework_key] = (controls, links)
    return rows


def _catalogue_requirement(requirement: Requirement) -> CatalogueRequirement:
    return CatalogueRequirement(
        id=requirement.id,
        key=requirement.key,
        title=requirement.title,
        collector=requirement.collector,
        frequency_days=requirement.frequency_days,
        grace_days=requirement.grace_days,
        needs_signoff=requirement.needs_signoff,
        position=requirement.position,
    )


catalogue_cache.register(CATALOGUE_KEY, _load_catalogue_rows)


def _catalogue_of(
    session: Session, framework_key: str, kind: str
) -> tuple[list[CatalogueControl], list[CatalogueLink]]:
    """The framework's controls of ``kind`` and its requirement links from the in-process
    catalogue cache, each link with the organisation's current switch-off (one small query)."""
    controls, links = catalogue_cache.get_registered(session, CATALOGUE_KEY).get(framework_key, ({}, []))
    switched = repository.switch_offs(session, {link.requirement.id for link in links})
    # The cached links carry no switch-off; only the few switched off are copied.
    return controls.get(kind, []), [
        link._replace(switched_off=switched[link.requirement.id]) if link.requirement.id in switched else link
        for link in links
    ]


def compute_coverage(
    session: Session,
    *,
    framework_key: str,
    period_start: date,
    period_end: date,
    as_of: date | None = None,
    engagement_id: int | None = None,
    control_ids: set[int] | None = None,
    kind: str = KIND_CONTROL,
    from_scratch: bool = False,
) -> CoverageReport:
    """Coverage of every control (or clause, by ``kind``) of ``framework_key`` (or only ``control_ids``).

    The newest evidence per requirement comes from the rollup; ``from_scratch`` aggregates the
    evidence itself instead, which ``audit-portal coverage check`` compares against."""
    as_of = min(as_of or utcnow().date(), period_end)
    start, end = period_window(period_start, as_of)

    kind_controls, all_links = _catalogue_of(session, framework_key, kind)
    controls = [c for c in kind_controls if control_ids is None or c.id in control_ids]
    excluded = _excluded_controls(session, framework_key, controls)
    links = [link for link in all_links if link.switched_off is None]
    switched_off_by_control: dict[int, list[SwitchedOffRequirement]] = defaultdict(list)
    for link in all_links:
        if link.switched_off is not None:
            switched_off_by_control[link.control_id].append(_switched_off(link))
    requirement_ids = {link.requirement.id for link in links}
    if from_scratch:
        newest = repository.newest_evidence(session, requirement_ids, start, end, engagement_id)
    else:
        newest = rollup.newest_evidence(session, requirement_ids, period_start, as_of, engagement_id)
    items = repository.newest_items(session, newest, start, end, engagement_id)
    items_by_requirement: dict[int, list[repository.EvidenceItem]] = defaultdict(list)
    for item in items:
        items_by_requirement[item.requirement_id].append(item)
    findings = repository.failing_findings(
        session,
        {item.evidence_id for item in items},
        {item.collector_run_id for item in items if item.collector_run_id is not None},
    )

    requirement_states: dict[int, RequirementCoverage] = {}
    for link in links:
        requirement = link.requirement
        if requirement.id not in requirement_states:
            requirement_states[requirement.id] = _requirement_state(
                link,
                newest.get(requirement.id),
                items_by_requirement.get(requirement.id, []),
                findings,
                as_of,
            )
    links_by_control: dict[int, list[CatalogueLink]] = defaultdict(list)
    for link in links:
        links_by_control[link.control_id].append(link)

    results = []
    for control in controls:
        if control.id in excluded:
            results.append(_control(control, NOT_APPLICABLE, excluded[control.id], ()))
            continue
        states = tuple(
            _with_via(requirement_states[link.requirement.id], link.via_measure)
            for link in sorted(
                links_by_control.get(control.id, []),
                key=lambda found: (found.via_measure or "", found.requirement.position),
            )
        )
        off = tuple(sorted(switched_off_by_control.get(control.id, []), key=lambda o: (o.via_measure or "", o.key)))
        status, reason = _control_status(states, off)
        results.append(_control(control, status, reason, states, off))
    counts = Counter(c.status for c in results)
    return CoverageReport(
        framework_key=framework_key,
        period_start=period_start,
        period_end=period_end,
        as_of=as_of,
        controls=tuple(results),
        counts={status: counts.get(status, 0) for status in CONTROL_STATUSES},
        kind=kind,
    )


def coverage_as_of(
    session: Session,
    framework_key: str,
    *,
    as_of: date,
    period_start: date | None = None,
    period_end: date | None = None,
    engagement_id: int | None = None,
    kind: str = KIND_CONTROL,
    from_scratch: bool = False,
) -> CoverageReport:
    """A framework's coverage at the moment ``as_of``: the one function behind every figure.

    Without a period it is the certification year ending on ``as_of`` (what the dashboard, the
    daily snapshot and the monthly report show); an engagement passes its own period, and the
    moment is then capped at the period's end."""
    if period_start is None:
        period_start = as_of - timedelta(days=CERTIFICATION_YEAR_DAYS - 1)
    return compute_coverage(
        session,
        framework_key=framework_key,
        period_start=period_start,
        period_end=period_end or as_of,
        as_of=as_of,
        engagement_id=engagement_id,
        kind=kind,
        from_scratch=from_scratch,
    )


def restrict(report: CoverageReport, control_ids: set[int]) -> CoverageReport:
    """The same report for only some of its controls (an engagement's scope), counts redone."""
    controls = tuple(c for c in report.controls if c.control_id in control_ids)
    counts = Counter(c.status for c in controls)
    return replace(report, controls=controls, counts={status: counts.get(status, 0) for status in CONTROL_STATUSES})


def _switched_off(link: CatalogueLink) -> SwitchedOffRequirement:
    assert link.switched_off is not None
    return SwitchedOffRequirement(
        requirement_id=link.requirement.id,
        key=link.requirement.key,
        title=link.requirement.title,
        via_measure=link.via_measure,
        reason=link.switched_off.reason,
        switched_off_by=link.switched_off.switched_off_by,
        switched_off_at=link.switched_off.switched_off_at,
    )


def _excluded_controls(session: Session, framework_key: str, controls: list[CatalogueControl]) -> dict[int, Reason]:
    """Controls the SoA excludes, with the reason shown for them."""
    excluded_2022 = repository.soa_exclusions_2022(session)
    if framework_key == FRAMEWORK_2022:
        return {c.id: Phrase(REASON_MESSAGES["excluded"]) for c in controls if c.id in excluded_2022}
    if framework_key == FRAMEWORK_2013:
        successors = repository.successors_of(session, [c.id for c in controls])
        return {
            c.id: Phrase(REASON_MESSAGES["successors_excluded"])
            for c in controls
            if successors.get(c.id) and successors[c.id] <= excluded_2022
        }
    return {}


def _requirement_state(
    link: CatalogueLink,
    newest: repository.NewestEvidence | None,
    items: list[repository.EvidenceItem],
    findings: Sequence[repository.FailingFinding],
    as_of: date,
) -> RequirementCoverage:
    requirement = link.requirement
    key = requirement.key
    cadence = Phrase.of(REASON_MESSAGES["cadence"], frequency=requirement.frequency_days, grace=requirement.grace_days)

    def state(status: str, reason: Reason, failing: tuple[int, ...] = ()) -> RequirementCoverage:
        return RequirementCoverage(
            requirement_id=requirement.id,
            key=requirement.key,
            title=requirement.title,
            collector=requirement.collector,
            frequency_days=requirement.frequency_days,
            grace_days=requirement.grace_days,
            via_measure=link.via_measure,
            status=status,
            reason=reason,
            newest_at=newest.newest_at if newest else None,
            newest_evidence_ids=tuple(sorted(item.evidence_id for item in items)),
            evidence_count=newest.evidence_count if newest else 0,
            failing_finding_ids=failing,
        )

    if newest is None:
        return state(MISSING, Phrase.of(REASON_MESSAGES[MISSING], key=key, cadence=cadence))
    evidence_ids = {item.evidence_id for item in items}
    run_ids = {item.collector_run_id for item in items if item.collector_run_id is not None}
    failing = tuple(sorted(f.id for f in findings if f.evidence_id in evidence_ids or f.last_run_id in run_ids))
    newest_day = newest.newest_at.date()
    age = (as_of - newest_day).days
    if age == 1:
        described = Phrase.of(REASON_MESSAGES["evidence_1"], day=newest_day, cadence=cadence)
    else:
        described = Phrase.of(REASON_MESSAGES["evidence"], day=newest_day, age=age, cadence=cadence)
    if failing:
        return state(
            FAILING, Phrase.of(REASON_MESSAGES[FAILING], key=key, evidence=described, count=len(failing)), failing
        )
    fresh_until = newest_day + timedelta(days=requirement.frequency_days + requirement.grace_days)
    if fresh_until < as_of:
        since = fresh_until + timedelta(days=1)
        return state(STALE, Phrase.of(REASON_MESSAGES[STALE], key=key, evidence=described, day=since))
    if requirement.needs_signoff and not any(item.signed_off for item in items):
        return state(AWAITING_SIGNOFF, Phrase.of(REASON_MESSAGES[AWAITING_SIGNOFF], key=key, evidence=described))
    return state(MET, Phrase.of(REASON_MESSAGES[MET], key=key, evidence=described, day=fresh_until))


def _control_status(
    states: tuple[RequirementCoverage, ...], switched_off: tuple[SwitchedOffRequirement, ...] = ()
) -> tuple[str, Reason]:
    if not states and switched_off:
        # The keys and the reasons people typed, as they are.
        reasons = "; ".join(f"{o.key}: {o.reason}" for o in switched_off)
        return NO_REQUIREMENT, Phrase.of(REASON_MESSAGES["all_switched_off"], reasons=reasons)
    if not states:
        return NO_REQUIREMENT, Phrase(REASON_MESSAGES["no_requirement"])
    by_status = Counter(s.status for s in states)
    total = len(states)
    met = by_status[MET]
    if by_status[FAILING]:
        return FAILING, Phrases(tuple(s.reason for s in states if s.status == FAILING))
    if met == total:
        if total == 1:
            return COVERED, Phrase(REASON_MESSAGES["covered_1"])
        return COVERED, Phrase.of(REASON_MESSAGES["covered"], total=total)
    not_met = Phrases(tuple(s.reason for s in states if s.status != MET))
    if met:
        return PARTIAL, Phrase.of(REASON_MESSAGES[PARTIAL], met=met, total=total, not_met=not_met)
    if by_status[STALE] or by_status[AWAITING_SIGNOFF]:
        return STALE, not_met
    return MISSING, not_met


def _control(
    control: CatalogueControl,
    status: str,
    reason: Reason,
    states: tuple[RequirementCoverage, ...],
    switched_off: tuple[SwitchedOffRequirement, ...] = (),
) -> ControlCoverage:
    return ControlCoverage(
        control_id=control.id,
        ref=control.ref,
        title=control.title,
        group_key=control.group_key,
        status=status,
        reason=reason,
        requirements=states,
        switched_off=switched_off,
    )


def _with_via(state: RequirementCoverage, via_measure: str | None) -> RequirementCoverage:
    return state if state.via_measure == via_measure else replace(state, via_measure=via_measure)
