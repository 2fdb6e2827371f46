"""Queries of the refused-access tallies (audit/refusal_models.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from audit_portal.audit.refusal_models import AccessRefusalTally


def tally(session: Session, *, source: str, reason: str, minute: datetime) -> AccessRefusalTally | None:
    return session.scalars(
        select(AccessRefusalTally).where(
            col(AccessRefusalTally.source) == source,
            col(AccessRefusalTally.reason) == reason,
            col(AccessRefusalTally.minute) == minute,
        )
    ).first()


def earlier_tallies(session: Session, *, source: str, reason: str, before: datetime) -> Sequence[AccessRefusalTally]:
    return session.scalars(
        select(AccessRefusalTally).where(
            col(AccessRefusalTally.source) == source,
            col(AccessRefusalTally.reason) == reason,
            col(AccessRefusalTally.minute) < before,
        )
    ).all()


def recorded_since(session: Session, minute: datetime) -> int:
    """Refusals logged (any source) in the minute that starts at ``minute``."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(col(AccessRefusalTally.recorded)), 0)).where(
                col(AccessRefusalTally.minute) == minute
            )
        )
        or 0
    )


def stale_tallies(session: Session, before: datetime) -> Sequence[AccessRefusalTally]:
    return session.scalars(select(AccessRefusalTally).where(col(AccessRefusalTally.minute) < before)).all()


def delete_tallies(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(AccessRefusalTally).where(col(AccessRefusalTally.id).in_(ids)))


def add(session: Session, row: AccessRefusalTally) -> AccessRefusalTally:
    session.add(row)
    session.flush()
    return row
