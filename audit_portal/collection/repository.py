"""The queries of the collection domain; nothing else in it issues SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from audit_portal.collection.models import RUN_RUNNING, CollectorInstance, CollectorRun, JobLease, RuleDecision
from audit_portal.db import table_of

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
