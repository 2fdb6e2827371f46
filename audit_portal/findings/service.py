"""Findings the auditor records, and the serious findings collectors raised.

An auditor finding has a category (major nonconformity, minor nonconformity, observation,
opportunity for improvement) from which its severity is derived (major_nc -> high, minor_nc ->
medium, observation -> low, ofi -> info; the auditor may set another), the controls it concerns,
and the corrective action: owner, root cause, action and due date. The auditor records and
classifies; it and admin maintain the corrective action. The status moves only through the
lifecycle in :mod:`audit_portal.findings.lifecycle`. Collector findings of high severity or
above that are still open are shown to the auditor with the controls they affect (through the
evidence's requirements, and the measures' mappings onto the engagement's edition). Every
change is an audit event carrying the values before and after.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import Control
from audit_portal.engagements import repository as engagement_repository
from audit_portal.engagements import scope
from audit_portal.engagements import service as engagements
from audit_portal.engagements.models import Engagement
from audit_portal.engagements.scope import EVERYTHING, Scope
from audit_portal.errors import Forbidden, InvalidInput, NotFound
from audit_portal.evidence import repository as evidence_repository
from audit_portal.findings import lifecycle, repository
from audit_portal.findings.models import (
    AUDITOR_CATEGORIES,
    OPEN_STATUSES,
    SEVERITIES,
    STATUSES,
    Finding,
    FindingTransition,
)
from audit_portal.i18n import N_, Sentences, Words
from audit_portal.principals import Actor, Principal, Role

CATEGORY_SEVERITY = {"major_nc": "high", "minor_nc": "medium", "observation": "low", "ofi": "info"}
CATEGORY_LABELS = {
    "major_nc": N_("Major nonconformity"),
    "minor_nc": N_("Minor nonconformity"),
    "observation": N_("Observation"),
    "ofi": N_("Opportunity for improvement"),
}
STATUS_LABELS = {
    "open": N_("Open"),
    "action_planned": N_("Action planned"),
    "remediated": N_("Remediated, to verify"),
    "closed": N_("Closed"),
    "risk_accepted": N_("Risk accepted"),
}
TITLE_MAX_LENGTH = 300
TEXT_MAX_LENGTH = 20_000
OWNER_MAX_LENGTH = 100
# What only the auditor decides; it and admin maintain the corrective action.
AUDITOR_FIELDS = ("title", "detail", "category", "severity", "control_refs")


@dataclass
class FindingForm:
    title: str = ""
    detail: str = ""
    category: str = "minor_nc"
    severity: str = ""  # blank: derived from the category
    control_refs: str = ""
    owner: str = ""
    corrective_action: str = ""
    due_date: str = ""
    root_cause: str = ""


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    controls: list[Control]
    engagement: Engagement | None = None
    today: date = field(default_factory=lambda: clock.utcnow().date())
    history: list[FindingTransition] = field(default_factory=list)
    remediation_evidence: list[int] = field(default_factory=list)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.finding.category or "", "Collector finding")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.finding.status, self.finding.status)

    @property
    def overdue(self) -> bool:
        due = self.finding.due_date
        return due is not None and due < self.today and self.finding.status in OPEN_STATUSES


# --- reading --------------------------------------------------------------------------------


def engagement_findings(
    session: Session, principal: Principal, engagement_id: int
) -> tuple[Engagement, list[FindingView], list[FindingView]]:
    """(engagement, its auditor findings, serious open collector findings with the engagement's
    controls they affect)."""
    engagement = engagements.get_engagement(session, principal, engagement_id)
    auditor = list(repository.auditor_findings(session, [engagement.id]))
    return (
        engagement,
        _auditor_views(session, auditor),
        collector_views(session, engagement.framework_key, scope.for_engagement(principal, engagement)),
    )


def for_control(
    session: Session, engagement: Engagement, control: Control, reader: Scope = EVERYTHING
) -> tuple[list[FindingView], list[FindingView]]:
    """The engagement's auditor findings on the control, and serious collector findings affecting it."""
    auditor = _auditor_views(
        session, list(repository.auditor_findings(session, [engagement.id], control_id=control.id))
    )
    collector = [
        v
        for v in collector_views(session, control.framework_key, reader)
        if any(c.id == control.id for c in v.controls)
    ]
    return auditor, collector


def _auditor_views(session: Session, findings: list[Finding]) -> list[FindingView]:
    controls = controls_of(session, [f.id for f in findings])
    engagements_by_id = engagement_repository.by_ids(session, {f.engagement_id for f in findings if f.engagement_id})
    return [
        FindingView(f, controls.get(f.id, []), engagements_by_id.get(f.engagement_id) if f.engagement_id else None)
        for f in findings
    ]


def collector_views(session: Session, framework_key: str, reader: Scope = EVERYTHING) -> list[FindingView]:
    """Open collector findings of high severity or above, each with the controls of
    ``framework_key`` it affects (directly linked, or through its evidence's requirements and the
    measures' mappings)."""
    findings = [f for f in repository.serious_collector_findings(session) if reader.sees_finding(f)]
    return _with_affected_controls(session, findings, framework_key)


def _with_affected_controls(session: Session, findings: list[Finding], framework_key: str) -> list[FindingView]:
    linked = controls_of(session, [f.id for f in findings])
    reached: dict[int, list[Control]] = defaultdict(list)
    for finding_id, control in _controls_through_evidence(session, findings):
        reached[finding_id].append(control)
    sources = {
        c.id
        for found in list(reached.values()) + list(linked.values())
        for c in found
        if c.framework_key != framework_key
    }
    targets = catalogue_repository.mapped_targets(session, sources, framework_key)
    views = []
    for finding in findings:
        affected: dict[int, Control] = {}
        for control in linked.get(finding.id, []) + reached.get(finding.id, []):
            if control.framework_key == framework_key:
                affected[control.id] = control
            for target in targets.get(control.id, []):
                affected[target.id] = target
        views.append(FindingView(finding, sorted(affected.values(), key=lambda c: c.position)))
    return views


def controls_of(session: Session, finding_ids: list[int]) -> dict[int, list[Control]]:
    """The controls and measures each finding is linked to: ISO controls before Annex 2 measures
    ("iso27001-*" sorts after "annex2"), each in catalogue order."""
    linked = repository.control_ids_of(session, finding_ids)
    found = catalogue_repository.controls_by_ids(session, {i for ids in linked.values() for i in ids})
    return {
        finding_id: sorted(
            (found[i] for i in ids if i in found), key=lambda c: (c.framework_key, -c.position), reverse=True
        )
        for finding_id, ids in linked.items()
    }


def _controls_through_evidence(session: Session, findings: list[Finding]) -> list[tuple[int, Control]]:
    """(finding id, control or measure) reached through the evidence a finding was raised on: its
    evidence item, or every item of the run that last saw it."""
    by_evidence = {f.evidence_id: f.id for f in findings if f.evidence_id is not None}
    by_run: dict[int, list[int]] = {}
    for f in findings:
        if f.evidence_id is None and f.last_run_id is not None:
            by_run.setdefault(f.last_run_id, []).append(f.id)
    links = evidence_repository.requirement_links_of_items(session, by_evidence, by_run)
    owners = catalogue_repository.controls_of_requirements(session, {requirement_id for _, _, requirement_id in links})
    result: list[tuple[int, Control]] = []
    for evidence_id, run_id, requirement_id in links:
        control = owners[requirement_id]
        if evidence_id in by_evidence:
            result.append((by_evidence[evidence_id], control))
        for finding_id in by_run.get(run_id, []) if run_id is not None else []:
            result.append((finding_id, control))
    return result


def global_list(
    session: Session,
    principal: Principal,
    *,
    source: str = "",
    status: str = "",
    severity: str = "",
) -> list[FindingView]:
    """Every finding the reader may see (engagements/scope.py): an auditor sees the auditor
    findings of its own engagements and the collector findings raised within their periods."""
    reader = scope.scope_of(session, principal)
    findings = [
        finding
        for finding in repository.all_findings(
            session,
            source=source if source in ("auditor", "collector") else "",
            status=status if status in STATUSES else "",
            severity=severity if severity in SEVERITIES else "",
            engagement_ids=reader.engagement_ids,
        )
        if reader.sees_finding(finding)
    ]
    return _auditor_views(session, findings)


def get_finding(
    session: Session, principal: Principal, engagement_id: int, finding_id: int
) -> tuple[Engagement, FindingView]:
    engagement = engagements.get_engagement(session, principal, engagement_id)
    finding = repository.get(session, finding_id)
    if finding is None or finding.engagement_id != engagement.id:
        raise NotFound(
            N_("Engagement %(engagement)s has no finding %(id)s."),
            values={"engagement": engagement_id, "id": finding_id},
        )
    view = _auditor_views(session, [finding])[0]
    return engagement, FindingView(
        view.finding,
        view.controls,
        view.engagement,
        history=repository.transitions_of(session, [finding_id])[finding_id],
        remediation_evidence=repository.remediation_evidence_ids(session, [finding_id])[finding_id],
    )


def form_for(view: FindingView) -> FindingForm:
    f = view.finding
    return FindingForm(
        title=f.title,
        detail=f.detail or "",
        category=f.category or "",
        # Blank when the severity is the one the category implies, so a category change carries it.
        severity="" if f.severity == CATEGORY_SEVERITY.get(f.category or "") else f.severity,
        control_refs=", ".join(c.ref for c in view.controls),
        owner=f.owner or "",
        corrective_action=f.corrective_action or "",
        due_date=f.due_date.isoformat() if f.due_date else "",
        root_cause=f.root_cause or "",
    )


# --- changing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedFinding:
    title: str
    detail: str | None
    category: str
    severity: str
    control_ids: list[int]
    control_refs: list[str]
    owner: str | None
    corrective_action: str | None
    due_date: date | None
    root_cause: str | None


def check_form(session: Session, engagement: Engagement, form: FindingForm) -> CheckedFinding:
    errors: list[dict[str, Any]] = []
    title = form.title.strip()
    if not title:
        errors.append({"location": "title", "message": N_("Give the finding a title.")})
    elif len(title) > TITLE_MAX_LENGTH:
        errors.append(
            {
                "location": "title",
                "message": N_("Keep the title under %(most)s characters."),
                "values": {"most": TITLE_MAX_LENGTH},
            }
        )
    if form.category not in AUDITOR_CATEGORIES:
        errors.append(
            {
                "location": "category",
                "message": N_("Choose a category: %(choices)s."),
                "values": {"choices": Words(CATEGORY_LABELS.values())},
            }
        )
    severity = form.severity.strip() or CATEGORY_SEVERITY.get(form.category, "")
    if severity not in SEVERITIES:
        errors.append(
            {
                "location": "severity",
                "message": N_("Choose a severity: %(choices)s."),
                "values": {"choices": Words(SEVERITIES)},
            }
        )
    refs = [r.strip() for r in form.control_refs.replace("\n", ",").split(",") if r.strip()]
    control_ids = []
    for ref in refs:
        control = catalogue_repository.live_control_by_ref(
            session, [engagement.framework_key, engagements.MEASURES_FRAMEWORK], ref
        )
        if control is None:
            errors.append(
                {
                    "location": "control_refs",
                    "message": N_("There is no control or measure '%(ref)s' in this engagement's edition."),
                    "values": {"ref": ref},
                }
            )
        else:
            control_ids.append(control.id)
    if not refs:
        errors.append({"location": "control_refs", "message": N_("Link the finding to at least one control.")})
    owner = form.owner.strip() or None
    if owner and len(owner) > OWNER_MAX_LENGTH:
        errors.append(
            {
                "location": "owner",
                "message": N_("Keep the owner under %(most)s characters."),
                "values": {"most": OWNER_MAX_LENGTH},
            }
        )
    for name in ("detail", "corrective_action", "root_cause"):
        if len(getattr(form, name)) > TEXT_MAX_LENGTH:
            errors.append(
                {
                    "location": name,
                    "message": N_("Keep it under %(most)s characters."),
                    "values": {"most": TEXT_MAX_LENGTH},
                }
            )
    due = None
    if form.due_date.strip():
        try:
            due = date.fromisoformat(form.due_date.strip())
        except ValueError:
            errors.append({"location": "due_date", "message": N_("Give the due date as YYYY-MM-DD.")})
    if errors:
        raise InvalidInput(
            N_("The finding was not saved: %(reasons)s"), values={"reasons": Sentences(errors)}, errors=errors
        )
    return CheckedFinding(
        title,
        form.detail.strip() or None,
        form.category,
        severity,
        control_ids,
        refs,
        owner,
        form.corrective_action.strip() or None,
        due,
        form.root_cause.strip() or None,
    )


def create(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    form: FindingForm,
) -> Finding:
    principal = actor.principal
    engagement = engagements.get_engagement(session, principal, engagement_id)
    checked = check_form(session, engagement, form)
    now = clock.utcnow()
    finding = repository.add(
        session,
        Finding(
            source="auditor",
            title=checked.title,
            detail=checked.detail,
            severity=checked.severity,
            category=checked.category,
            status="open",
            engagement_id=engagement.id,
            owner=checked.owner,
            corrective_action=checked.corrective_action,
            root_cause=checked.root_cause,
            due_date=checked.due_date,
            created_at=now,
            created_by=principal.username,
        ),
    )
    repository.replace_controls(session, finding.id, checked.control_ids)
    lifecycle.record_opening(session, finding, principal=principal)
    record_event(
        session,
        actor=actor,
        action="finding.create",
        object_type="finding",
        object_id=finding.id or "",
        detail={"engagement": engagement.id, "after": _snapshot(checked)},
    )
    return finding


def update(
    session: Session,
    *,
    actor: Actor,
    engagement_id: int,
    finding_id: int,
    form: FindingForm,
) -> Finding:
    principal = actor.principal
    engagement, view = get_finding(session, principal, engagement_id, finding_id)
    before = form_for(view)
    if principal.role != Role.auditor:
        changed = [name for name in AUDITOR_FIELDS if _normal(getattr(form, name)) != _normal(getattr(before, name))]
        if changed:
            raise Forbidden(
                N_("Only the auditor changes what a finding says (%(fields)s); you maintain the corrective action."),
                values={"fields": ", ".join(changed)},
            )
    checked = check_form(session, engagement, form)
    finding = view.finding
    finding.title, finding.detail, finding.category = (
        checked.title,
        checked.detail,
        checked.category,
    )
    finding.severity, finding.owner, finding.corrective_action = (
        checked.severity,
        checked.owner,
        checked.corrective_action,
    )
    finding.due_date, finding.root_cause = checked.due_date, checked.root_cause
    session.add(finding)
    repository.replace_controls(session, finding_id, checked.control_ids)
    record_event(
        session,
        actor=actor,
        action="finding.update",
        object_type="finding",
        object_id=finding_id,
        detail={"engagement": engagement.id, "before": vars(before), "after": _snapshot(checked)},
    )
    return finding


def _normal(value: str) -> str:
    return ",".join(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def _snapshot(checked: CheckedFinding) -> dict[str, object]:
    return {
        "title": checked.title,
        "category": checked.category,
        "severity": checked.severity,
        "controls": checked.control_refs,
        "owner": checked.owner,
        "corrective_action": checked.corrective_action,
        "due_date": checked.due_date.isoformat() if checked.due_date else None,
        "root_cause": checked.root_cause,
    }
