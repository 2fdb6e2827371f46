"""Demo step: the requirement library as the demo organisation uses it.

- Where an Annex 2 measure proves a control, the organisation switched the control's library
  requirement off with that reason: its own measure's requirements apply instead.
- Every other applicable Annex A control is proven by its library requirement: IT uploaded a
  document for most of them, with gaps (some stale, some never uploaded).
- The ISMS clauses have their mandatory documented information, with the gaps a real year has:
  the last management review is more than a year old, the monitoring results and the corrective
  action log are stale. The Statement of Applicability is kept as evidence of 6.1.3 d.
"""

from __future__ import annotations

import io
from datetime import timedelta

from audit_portal.auth import repository as accounts
from audit_portal.catalogue import library
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import KIND_CLAUSE, KIND_CONTROL, MAPS_TO, SUCCESSOR, Requirement
from audit_portal.demo_context import DemoContext
from audit_portal.evidence import service as evidence
from audit_portal.evidence.demo import COMPANY, UPLOADER, minimal_pdf
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.principals import Actor, Principal
from audit_portal.soa import evidence as soa_evidence
from audit_portal.soa import repository as soa_repository

DEMO_ACTOR = Actor.system("demo")
EDITIONS = ("iso27001-2022", "iso27001-2013")
# Clause evidence by requirement slug (2022 keys; the 2013 key is the same slug + "-2013"):
# days since it was produced, or None when the organisation has none.
CLAUSE_EVIDENCE: dict[str, int | None] = {
    "context-issues": 120,
    "interested-parties": 120,
    "scope": 200,
    "isms-processes": 200,
    "commitment": 90,
    "policy": 150,
    "isms-roles": 150,
    "risk-planning": 130,
    "risk-assessment-process": 210,
    "risk-treatment-process": 210,
    "objectives": 60,
    "change-planning": 45,
    "resources": 100,
    "competence": 75,
    "isms-awareness": 75,
    "communication": 180,
    "document-control": 40,
    "operational-planning": 110,
    "risk-assessment-results": 95,
    "risk-treatment-results": 95,
    "monitoring-results": 260,  # every 180 days + 30 grace: stale
    "audit-programme": 300,
    "audit-results": 240,
    "management-review": 400,  # more than a year ago: nothing in the certification year
    "continual-improvement": 150,
    "corrective-actions": 250,  # every 180 days + 30 grace: stale
}


def demo_requirement_library(context: DemoContext) -> None:
    """Requirement library: switch-offs with reasons, uploads for the other controls, clause evidence with gaps."""
    session = context.session
    switched = _switch_off_where_measures_prove(session)
    uploaded = _upload_library_evidence(context)
    clauses = _upload_clause_evidence(context)
    soa_evidence.keep_export(session, context.store, max_bytes=context.settings.max_upload_bytes, actor=DEMO_ACTOR)
    context.console.print(
        f"demo: {switched} library requirements switched off (a measure proves the control), "
        f"{uploaded} control and {clauses} clause documents uploaded; the management review is over a year old",
        highlight=False,
    )


def _switch_off_where_measures_prove(session) -> int:
    count = 0
    for framework in EDITIONS:
        controls = catalogue_repository.controls_of(session, framework, kind=KIND_CONTROL)
        measures: dict[int, list[str]] = {}
        for mapping, measure in catalogue_repository.sources_mapped_to(
            session, [c.id for c in controls if c.id], kind=MAPS_TO, source_framework_key="annex2"
        ):
            measures.setdefault(mapping.target_id, []).append(measure.ref)
        own = catalogue_repository.requirements_of_controls(session, [c.id for c in controls if c.id in measures])
        for requirement in own:
            refs = ", ".join(measures[requirement.control_id])
            noun = "measure" if "," not in refs else "measures"
            library.switch_off(
                session,
                key=requirement.key,
                actor=DEMO_ACTOR,
                reason=f"Proven through the organisation's Annex 2 {noun} {refs}, whose requirements apply to this control instead.",
            )
            count += 1
    return count


def _uploader(context: DemoContext) -> tuple[Actor, EvidenceSource]:
    user = accounts.user_by_username(context.session, UPLOADER)
    if user is None or user.id is None:
        return DEMO_ACTOR, EvidenceSource(kind="upload")
    return Actor(Principal(role=user.role, username=user.username, user_id=user.id)), EvidenceSource.upload(user.id)


def _upload(context: DemoContext, keys: list[str], days_ago: int, title: str, lines: list[str]) -> None:
    actor, source = _uploader(context)
    collected_at = context.now - timedelta(days=days_ago)
    filename = title.lower().replace(" ", "-").replace("/", "-")[:80] + ".pdf"
    evidence.ingest(
        context.session,
        context.store,
        stream=io.BytesIO(minimal_pdf(title, lines)),
        filename=filename,
        meta=EvidenceMeta(title=title, collected_at=collected_at, requirements=keys),
        source=source,
        max_bytes=context.settings.max_upload_bytes,
        actor=actor,
        retention_years=context.settings.retention_years_after_cycle,
    )


def _upload_library_evidence(context: DemoContext) -> int:
    """A document for most applicable 2022 controls no measure proves; every fifth is stale,
    every seventh was never uploaded."""
    session = context.session
    controls = catalogue_repository.controls_of(session, "iso27001-2022", kind=KIND_CONTROL)
    ids = [c.id for c in controls if c.id is not None]
    switched = catalogue_repository.switch_offs_of(
        session, [r.id for r in catalogue_repository.requirements_of_controls(session, ids) if r.id]
    )
    entries = soa_repository.entries_for(session, ids)
    predecessors: dict[int, list[int]] = {}
    for mapping, older in catalogue_repository.sources_mapped_to(session, ids, kind=SUCCESSOR):
        predecessors.setdefault(mapping.target_id, []).append(older.id)
    older_requirements: dict[int, list[Requirement]] = {}
    for requirement in catalogue_repository.requirements_of_controls(
        session, {i for found in predecessors.values() for i in found}
    ):
        older_requirements.setdefault(requirement.control_id, []).append(requirement)
    uploaded = 0
    candidates = [
        (control, requirement)
        for control in controls
        for requirement in catalogue_repository.requirements_of_controls(session, [control.id])
        if requirement.id not in switched and entries.get(control.id) is not None and entries[control.id].applicable
    ]
    for number, (control, requirement) in enumerate(candidates, start=1):
        if number % 7 == 0:
            continue  # never uploaded: missing
        stale = number % 5 == 0
        days_ago = (
            requirement.frequency_days + requirement.grace_days + 20
            if stale
            else max(requirement.frequency_days // 3, 0)
        )
        keys = [requirement.key] + [
            r.key for older in predecessors.get(control.id, []) for r in older_requirements.get(older, [])
        ]
        _upload(
            context,
            keys,
            min(days_ago, 360),
            f"{control.ref} {requirement.title}",
            [
                f"{COMPANY}: {requirement.title}",
                f"Control {control.ref} {control.title}",
                requirement.auditor_expects[:90],
            ],
        )
        uploaded += 1
    return uploaded


def _upload_clause_evidence(context: DemoContext) -> int:
    session = context.session
    by_slug: dict[str, list[str]] = {}
    for framework in EDITIONS:
        clauses = catalogue_repository.controls_of(session, framework, kind=KIND_CLAUSE)
        for requirement in catalogue_repository.requirements_of_controls(session, [c.id for c in clauses if c.id]):
            slug = requirement.key.split("/", 1)[1].removesuffix("-2013")
            by_slug.setdefault(slug, []).append(requirement.key)
    uploaded = 0
    for slug, days_ago in CLAUSE_EVIDENCE.items():
        keys = [k for k in by_slug.get(slug, []) if not k.startswith("C.6.1.3/statement-of-applicability")]
        if days_ago is None or not keys:
            continue
        title = slug.replace("-", " ").capitalize()
        _upload(
            context, keys, days_ago, f"ISMS {title}", [f"{COMPANY}: {title}", "ISO/IEC 27001 management-system record"]
        )
        uploaded += 1
    return uploaded
