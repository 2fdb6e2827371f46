"""Snapshot queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from audit_portal.trends.models import CoverageSnapshot


def replace_day(session: Session, day: date, rows: Iterable[CoverageSnapshot]) -> None:
    """The snapshots of a day, replacing any taken before (a re-run gives the same rows)."""
    session.execute(delete(CoverageSnapshot).where(col(CoverageSnapshot.day) == day))
    session.add_all(list(rows))
    session.flush()


def overall_between(session: Session, frameworks: Iterable[str], first: date, last: date) -> Sequence[CoverageSnapshot]:
    return session.scalars(
        select(CoverageSnapshot)
        .where(
            col(CoverageSnapshot.framework_key).in_(list(frameworks)),
            col(CoverageSnapshot.group_key).is_(None),
            col(CoverageSnapshot.day) >= first,
            col(CoverageSnapshot.day) <= last,
        )
        .order_by(col(CoverageSnapshot.day))
    ).all()


def of_day(session: Session, day: date) -> Sequence[CoverageSnapshot]:
    return session.scalars(
        select(CoverageSnapshot)
        .where(col(CoverageSnapshot.day) == day)
        .order_by(
            col(CoverageSnapshot.framework_key),
            col(CoverageSnapshot.group_key).is_not(None),
            col(CoverageSnapshot.group_key),
        )
    ).all()


def days_with_snapshots(session: Session, first: date, last: date) -> set[date]:
    return set(
        session.scalars(
            select(col(CoverageSnapshot.day))
            .where(col(CoverageSnapshot.day) >= first, col(CoverageSnapshot.day) <= last)
            .distinct()
        )
    )


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CoverageSnapshot)) or 0
