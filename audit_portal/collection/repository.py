"""The queries of the collection domain; nothing else in it issues SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from audit_portal.catalogue.models import Requirement
from audit_portal.collection.models import RUN_RUNNING, CollectorInstance, CollectorRun, JobLease, RuleDecision
from audit_portal.db import table_of
from audit_portal.evidence.models import Evidence, EvidenceRequirement, EvidenceSignoff
from audit_portal.findings.models import OPEN_STATUSES, Finding, FindingControl

# --- instances ------------------------------------------------------------------------------


def instance_by_name(session: Session, name: str) -> CollectorInstance | None:
    return session.exec(select(CollectorInstance).where(col(CollectorInstance.name) == name)).first()


def instances(session: Session) -> Sequence[CollectorInstance]:
    return session.exec(select(CollectorInstance).order_by(col(CollectorInstance.name))).all()


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


# --- runs -----------------------------------------------------------------------------------


def get_run(session: Session, run_id: int) -> CollectorRun | None:
    return session.get(CollectorRun, run_id)


def runs_of(session: Session, instance_id: int, limit: int = 100) -> Sequence[CollectorRun]:
    return session.exec(
        select(CollectorRun)
        .where(col(CollectorRun.instance_id) == instance_id)
        .order_by(col(CollectorRun.started_at).desc(), col(CollectorRun.id).desc())
        .limit(limit)
    ).all()


def latest_run(session: Session, instance_id: int, *, status: str | None = None) -> CollectorRun | None:
    query = select(CollectorRun).where(col(CollectorRun.instance_id) == instance_id)
    if status is not None:
        query = query.where(col(CollectorRun.status) == status)
    return session.exec(
        query.order_by(col(CollectorRun.started_at).desc(), col(CollectorRun.id).desc()).limit(1)
    ).first()


def latest_runs(session: Session, instance_ids: Iterable[int]) -> dict[int, CollectorRun]:
    """The newest run of each instance, in one query."""
    ids = list(instance_ids)
    if not ids:
        return {}
    newest = (
        select(col(CollectorRun.instance_id), func.max(col(CollectorRun.id)).label("run_id"))
        .where(col(CollectorRun.instance_id).in_(ids))
        .group_by(col(CollectorRun.instance_id))
        .subquery()
    )
    rows = session.exec(select(CollectorRun).join(newest, newest.c.run_id == col(CollectorRun.id))).all()
    return {row.instance_id: row for row in rows}


def running_runs(session: Session, instance_id: int) -> Sequence[CollectorRun]:
    return session.exec(
        select(CollectorRun).where(
            col(CollectorRun.instance_id) == instance_id, col(CollectorRun.status) == RUN_RUNNING
        )
    ).all()


# --- evidence of runs -----------------------------------------------------------------------


def evidence_of_run(session: Session, run_id: int) -> Sequence[Evidence]:
    return session.exec(
        select(Evidence).where(col(Evidence.collector_run_id) == run_id).order_by(col(Evidence.id))
    ).all()


def normalised_evidence(session: Session, run_id: int) -> Evidence | None:
    return session.exec(
        select(Evidence).where(col(Evidence.collector_run_id) == run_id, col(Evidence.artifact_kind) == "normalised")
    ).first()


def signoffs_of(session: Session, evidence_ids: Iterable[int]) -> dict[int, EvidenceSignoff]:
    ids = list(evidence_ids)
    if not ids:
        return {}
    rows = session.exec(select(EvidenceSignoff).where(col(EvidenceSignoff.evidence_id).in_(ids))).all()
    return {row.evidence_id: row for row in rows}


def newest_manual_evidence(session: Session) -> dict[str, datetime]:
    """Requirement key -> newest collected_at of its evidence, for every manual requirement."""
    rows = session.exec(
        select(col(Requirement.key), func.max(col(Evidence.collected_at)))
        .join(EvidenceRequirement, col(EvidenceRequirement.requirement_id) == col(Requirement.id))
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(col(Requirement.collector) == "manual", col(Evidence.superseded_at).is_(None))
        .group_by(col(Requirement.key))
    ).all()
    return {key: newest for key, newest in rows}


def requirements(session: Session, keys: Iterable[str]) -> Sequence[Requirement]:
    wanted = list(keys)
    if not wanted:
        return []
    return session.exec(select(Requirement).where(col(Requirement.key).in_(wanted))).all()


# --- findings -------------------------------------------------------------------------------


def unclosed_findings(session: Session, instance_name: str) -> Sequence[Finding]:
    return session.exec(
        select(Finding).where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance) == instance_name,
            col(Finding.status) != "closed",
        )
    ).all()


def findings_of_run(session: Session, run_id: int, instance_name: str | None = None) -> Sequence[Finding]:
    """Findings this run saw. A finding is seen by every run of its instance from the run that
    opened it to the newest run that still saw it (a run that no longer sees it closes it, and a
    key seen again later opens a new finding), so a run saw exactly the findings of its instance
    whose [first_run_id, last_run_id] holds the run: including those later runs saw again and
    those closed since. Without ``instance_name``, only the findings this run was the last to see."""
    query = select(Finding).where(col(Finding.source) == "collector")
    if instance_name is None:
        query = query.where(col(Finding.last_run_id) == run_id)
    else:
        query = query.where(
            col(Finding.collector_instance) == instance_name,
            col(Finding.first_run_id) <= run_id,
            col(Finding.last_run_id) >= run_id,
        )
    return session.exec(query.order_by(col(Finding.severity), col(Finding.key))).all()


def open_findings_counts(session: Session, instance_names: Iterable[str]) -> dict[str, int]:
    names = list(instance_names)
    if not names:
        return {}
    rows = session.exec(
        select(col(Finding.collector_instance), func.count())
        .where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance).in_(names),
            col(Finding.status).in_(OPEN_STATUSES),
        )
        .group_by(col(Finding.collector_instance))
    ).all()
    return {name: count for name, count in rows if name}


def link_finding_controls(session: Session, finding_id: int, control_ids: Iterable[int]) -> None:
    for control_id in sorted(set(control_ids)):
        session.add(FindingControl(finding_id=finding_id, control_id=control_id))
    session.flush()


# --- leases ---------------------------------------------------------------------------------


def try_take_lease(session: Session, *, job_name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
    """One statement: insert the lease, or take it over only when it has expired. PostgreSQL
    and SQLite both lock the conflicting row for the update, so of two takers exactly one gets
    a row back."""
    table = table_of(JobLease)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(table).values(job_name=job_name, holder=holder, acquired_at=now, expires_at=expires_at)
    statement = values.on_conflict_do_update(
        index_elements=[table.c.job_name],
        set_={"holder": holder, "acquired_at": now, "expires_at": expires_at},
        where=table.c.expires_at < now,
    ).returning(table.c.holder)
    row = session.execute(statement).first()
    return row is not None and row.holder == holder


def drop_lease(session: Session, *, job_name: str, holder: str) -> None:
    session.execute(delete(JobLease).where(col(JobLease.job_name) == job_name, col(JobLease.holder) == holder))


def lease(session: Session, job_name: str) -> JobLease | None:
    return session.get(JobLease, job_name)


def findings_closed_by(session: Session, instance_name: str, run: CollectorRun) -> Sequence[Finding]:
    """Findings this run closed because it no longer saw them (closed at the run's start)."""
    return session.exec(
        select(Finding).where(
            col(Finding.source) == "collector",
            col(Finding.collector_instance) == instance_name,
            col(Finding.status) == "closed",
            col(Finding.closed_at) == run.started_at,
        )
    ).all()


def add_signoffs(session: Session, signoffs: Iterable[EvidenceSignoff]) -> None:
    for signoff in signoffs:
        session.add(signoff)
    session.flush()


def run_by_push_id(session: Session, push_id: str) -> CollectorRun | None:
    """The run a sealed push with this nonce opened, if any."""
    return session.exec(select(CollectorRun).where(col(CollectorRun.push_id) == push_id)).first()


# --- firewall rule decisions ----------------------------------------------------------------


def rule_decisions(session: Session, run_id: int) -> Sequence[RuleDecision]:
    return session.exec(
        select(RuleDecision).where(col(RuleDecision.run_id) == run_id).order_by(col(RuleDecision.rule_index))
    ).all()


def rule_decisions_of_runs(session: Session, run_ids: Iterable[int]) -> dict[int, list[RuleDecision]]:
    """Run id -> its decisions in rule order, in one query (the evidence package)."""
    ids = sorted(set(run_ids))
    found: dict[int, list[RuleDecision]] = {run_id: [] for run_id in ids}
    if not ids:
        return found
    rows = session.exec(
        select(RuleDecision)
        .where(col(RuleDecision.run_id).in_(ids))
        .order_by(col(RuleDecision.run_id), col(RuleDecision.rule_index))
    ).all()
    for row in rows:
        found[row.run_id].append(row)
    return found


def save_rule_decisions(session: Session, rows: Iterable[RuleDecision]) -> None:
    for row in rows:
        session.add(row)
    session.flush()


def run_ids_started_between(start: datetime, end: datetime):
    """A SELECT of the ids (as text, as audit events name objects) of the runs started in
    [start, end), for another query to filter by."""
    return select(sa.cast(col(CollectorRun.id), sa.String)).where(
        col(CollectorRun.started_at) >= start, col(CollectorRun.started_at) < end
    )
