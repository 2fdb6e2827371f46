"""Queries of the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from audit_portal.audit.models import AuditChainHead, AuditEvent


def lock_chain_head(session: Session) -> AuditChainHead:
    """The chain head, locked until the transaction ends. PostgreSQL: ``SELECT ... FOR
    UPDATE``. SQLite ignores FOR UPDATE, so a no-op UPDATE first takes the database's write
    lock: a second writer waits for the first to commit instead of reading the same head."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(AuditChainHead)
            .where(col(AuditChainHead.id) == 1)
            .values(last_event_id=col(AuditChainHead.last_event_id))
        )
    statement = (
        select(AuditChainHead)
        .where(col(AuditChainHead.id) == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(statement).one()


def chain_head(session: Session) -> AuditChainHead:
    return session.exec(select(AuditChainHead).where(col(AuditChainHead.id) == 1)).one()


def events_in_order(session: Session, batch_size: int = 1000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        batch = session.exec(
            select(AuditEvent).where(col(AuditEvent.id) > last_id).order_by(col(AuditEvent.id)).limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


@dataclass(frozen=True)
class EventFilter:
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _filtered(event_filter: EventFilter):
    statement = select(AuditEvent)
    if event_filter.actor:
        statement = statement.where(col(AuditEvent.actor) == event_filter.actor)
    if event_filter.action:
        statement = statement.where(col(AuditEvent.action).startswith(event_filter.action))
    if event_filter.outcome:
        statement = statement.where(col(AuditEvent.outcome) == event_filter.outcome)
    if event_filter.since:
        statement = statement.where(col(AuditEvent.at) >= event_filter.since)
    if event_filter.until:
        statement = statement.where(col(AuditEvent.at) < event_filter.until)
    return statement


def find_events(session: Session, event_filter: EventFilter, *, offset: int, limit: int) -> list[AuditEvent]:
    statement = _filtered(event_filter).order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(session.exec(statement).all())


def count_events(session: Session, event_filter: EventFilter) -> int:
    subquery = _filtered(event_filter).subquery()
    return int(session.exec(select(func.count()).select_from(subquery)).one())


def iter_events(session: Session, event_filter: EventFilter, batch_size: int = 1000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        statement = (
            _filtered(event_filter).where(col(AuditEvent.id) > last_id).order_by(col(AuditEvent.id)).limit(batch_size)
        )
        batch = session.exec(statement).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


@dataclass(frozen=True)
class ObjectsInScope:
    """The audit events an engagement's trail shows: those about the objects the subqueries
    select (by object type), optionally only those of the given actions, and never those of
    auditors other than the engagement's own (their work belongs to their engagements)."""

    objects: tuple[tuple[str, Any], ...] = ()  # (object type, a SELECT of object ids as text)
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    auditors: tuple[str, ...] = ()
    action_prefix: str = ""


def _scoped(trail: ObjectsInScope):
    statement = select(AuditEvent)
    if trail.objects:
        statement = statement.where(
            or_(
                *(
                    and_(col(AuditEvent.object_type) == object_type, col(AuditEvent.object_id).in_(ids))
                    for object_type, ids in trail.objects
                )
            )
        )
    if trail.actions:
        statement = statement.where(col(AuditEvent.action).in_(trail.actions))
    if trail.action_prefix:
        statement = statement.where(col(AuditEvent.action).startswith(trail.action_prefix))
    if trail.since:
        statement = statement.where(col(AuditEvent.at) >= trail.since)
    if trail.until:
        statement = statement.where(col(AuditEvent.at) < trail.until)
    return statement.where(or_(col(AuditEvent.actor_role) != "auditor", col(AuditEvent.actor).in_(trail.auditors)))


def scoped_events(session: Session, trail: ObjectsInScope, *, before: int | None, limit: int) -> list[AuditEvent]:
    """One page of the trail, newest first; ``before`` is the id of the previous page's last."""
    statement = _scoped(trail)
    if before is not None:
        statement = statement.where(col(AuditEvent.id) < before)
    return list(session.exec(statement.order_by(col(AuditEvent.id).desc()).limit(limit)).all())


def evidence_events(
    session: Session, evidence_id: int, *, auditors: tuple[str, ...] | None = None, limit: int = 200
) -> Sequence[AuditEvent]:
    """The events about one evidence item, newest first. ``auditors``: the only auditors whose
    events show (an auditor reading the item sees no other audit firm's work); None shows all."""
    statement = select(AuditEvent).where(
        col(AuditEvent.object_type) == "evidence", col(AuditEvent.object_id) == str(evidence_id)
    )
    if auditors is not None:
        statement = statement.where(or_(col(AuditEvent.actor_role) != "auditor", col(AuditEvent.actor).in_(auditors)))
    return session.scalars(statement.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
