"""What the collector pages and ``collectors list`` show, gathered in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.catalogue.models import Requirement
from audit_portal.clock import utcnow
from audit_portal.collection import repository, service
from audit_portal.collection.models import RUN_OK, CollectorInstance, CollectorRun
from audit_portal.collection.signoffs import SignoffState, overdue, signoff_grace
from audit_portal.engagements.scope import EVERYTHING, OutOfScope, Scope, within
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence, EvidenceSignoff
from audit_portal.findings import repository as finding_repository
from audit_portal.findings.models import OPEN_STATUSES, Finding
from audit_portal.i18n import N_
from collectors import registry


@dataclass(frozen=True)
class InstanceRow:
    instance: CollectorInstance
    last_run: CollectorRun | None
    next_run: datetime | None
    open_findings: int


def overview(session: Session, reader: Scope = EVERYTHING) -> list[InstanceRow]:
    """Every instance with its newest run and open findings; for an auditor, the newest run and
    the findings within their periods (a few queries per instance, for that role only)."""
    instances = list(repository.instances(session))
    if reader.unrestricted:
        latest = repository.latest_runs(session, [i.id for i in instances if i.id is not None])
        counts = finding_repository.open_findings_counts(session, [i.name for i in instances])
    else:
        latest, counts = {}, {}
        for instance in instances:
            runs = _visible_runs(session, instance, reader)
            if runs:
                latest[instance.id] = runs[0]
            counts[instance.name] = len(_open_findings(session, instance.name, reader))
    return [
        InstanceRow(i, latest.get(i.id), service.next_run_at(i, latest.get(i.id)), counts.get(i.name, 0))
        for i in instances
    ]


@dataclass(frozen=True)
class InstanceDetail:
    row: InstanceRow
    plugin: registry.CollectorInfo | None
    config_yaml: str
    requirements: list[Requirement]
    runs: list[CollectorRun]
    open_findings: list[Finding]
    # the sign-off of each listed run whose review is signed off, when the instance needs one
    signoffs: dict[int, SignoffState] = field(default_factory=dict)
    grace: timedelta | None = None

    @property
    def needs_signoff(self) -> bool:
        return self.grace is not None

    def overdue(self, run: CollectorRun) -> bool:
        """A successful run whose review is still not signed off after the grace."""
        return run.status == RUN_OK and run.id not in self.signoffs and overdue(run.started_at, self.grace, utcnow())


def _visible_runs(session: Session, instance: CollectorInstance, reader: Scope) -> list[CollectorRun]:
    return within(reader, repository.runs_of(session, instance.id), lambda run: run.started_at)


def _open_findings(session: Session, name: str, reader: Scope) -> list[Finding]:
    return [
        f
        for f in finding_repository.unclosed_findings(session, name)
        if f.status in OPEN_STATUSES and reader.sees_finding(f)
    ]


def instance_detail(
    session: Session, name: str, reader: Scope = EVERYTHING, allowlist: frozenset[str] = frozenset()
) -> InstanceDetail:
    instance = service.get_instance(session, name)
    runs = _visible_runs(session, instance, reader)
    findings = _open_findings(session, name, reader)
    last = runs[0] if runs else None
    requirements = list(catalogue_repository.requirements_by_key(session, instance.requirement_list).values())
    grace = signoff_grace(requirements)
    return InstanceDetail(
        row=InstanceRow(instance, last, service.next_run_at(instance, last), len(findings)),
        plugin=registry.discover(allowlist).get(instance.collector),
        config_yaml=service.shown_config(instance),
        requirements=requirements,
        runs=runs,
        open_findings=sorted(findings, key=lambda f: (-_rank(f.severity), f.key or "")),
        signoffs=run_signoffs(session, runs, grace),
        grace=grace,
    )


def run_signoffs(session: Session, runs: list[CollectorRun], grace: timedelta | None) -> dict[int, SignoffState]:
    """Run id -> its sign-off, for the signed-off runs among ``runs`` (two queries)."""
    if grace is None:
        return {}
    signed = evidence_repository.signoffs_of_runs(session, [run.id for run in runs if run.id is not None])
    names = auth_repository.usernames(session, [by for _, by in signed.values()])
    return {
        run.id: SignoffState(names.get(signed[run.id][1], "?"), signed[run.id][0], run.started_at, grace)
        for run in runs
        if run.id in signed
    }


def _rank(severity: str) -> int:
    from audit_portal.findings.models import SEVERITIES

    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass(frozen=True)
class RunDetail:
    run: CollectorRun
    instance: CollectorInstance
    evidence: list[Evidence]
    findings: list[Finding]
    closed_findings: list[Finding]
    signoffs: dict[int, EvidenceSignoff]
    needs_signoff: bool
    grace: timedelta | None = None
    signoff_state: SignoffState | None = None

    @property
    def signed_off(self) -> bool:
        return bool(self.evidence) and all(e.id in self.signoffs for e in self.evidence)

    @property
    def may_be_signed_off(self) -> bool:
        return self.needs_signoff and self.run.status == RUN_OK and bool(self.evidence) and not self.signed_off


def run_detail(session: Session, run_id: int, reader: Scope = EVERYTHING) -> RunDetail:
    """One run; a run outside the reader's periods answers as if it did not exist."""
    run = repository.get_run(session, run_id)
    if run is None or not reader.sees_moment(run.started_at):
        raise OutOfScope(N_("There is no collector run %(id)s."), values={"id": run_id})
    instance = service.get_instance(session, run.instance_name)
    evidence = within(reader, evidence_repository.evidence_of_run(session, run_id), lambda e: e.collected_at)
    seen = (
        [f for f in finding_repository.findings_of_run(session, run_id, instance.name) if reader.sees_finding(f)]
        if run.status == RUN_OK
        else []
    )
    requirements = list(catalogue_repository.requirements_by_key(session, instance.requirement_list).values())
    grace = signoff_grace(requirements)
    signoffs = evidence_repository.signoffs_of(session, [e.id for e in evidence if e.id is not None])
    first = signoffs.get(evidence[0].id) if evidence and all(e.id in signoffs for e in evidence) else None
    state = None
    if first is not None and grace is not None:
        signer = auth_repository.usernames(session, [first.signed_by_id]).get(first.signed_by_id, "?")
        state = SignoffState(signer, first.signed_at, run.started_at, grace)
    return RunDetail(
        run=run,
        instance=instance,
        evidence=evidence,
        findings=seen,
        closed_findings=[
            f
            for f in finding_repository.findings_closed_by(session, instance.name, run.started_at)
            if reader.sees_finding(f)
        ],
        signoffs=signoffs,
        needs_signoff=any(r.needs_signoff for r in requirements),
        grace=grace,
        signoff_state=state,
    )
