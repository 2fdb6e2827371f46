"""Snapshot queries."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import delete, func, select
from sqlmodel import Session

from audit_portal.trends.models import CoverageSnapshot


def replace_day(session: Session, day: date, rows: Iterable[CoverageSnapshot]) -> None:
    """The snapshots of a day, replacing any taken before (a re-run gives the same rows)."""
    session.execute(delete(CoverageSnapshot).where(CoverageSnapshot.day == day))
    session.add_all(list(rows))
    session.flush()


def overall_between(session: Session, frameworks: Iterable[str], first: date, last: date) -> Sequence[CoverageSnapshot]:
    return session.scalars(
        select(CoverageSnapshot)
        .where(
            CoverageSnapshot.framework_key.in_(list(frameworks)),
            CoverageSnapshot.group_key.is_(None),
            CoverageSnapshot.day >= first,
            CoverageSnapshot.day <= last,
        )
        .order_by(CoverageSnapshot.day)
    ).all()


def of_day(session: Session, day: date) -> Sequence[CoverageSnapshot]:
    return session.scalars(
        select(CoverageSnapshot)
        .where(CoverageSnapshot.day == day)
        .order_by(CoverageSnapshot.framework_key, CoverageSnapshot.group_key.is_not(None), CoverageSnapshot.group_key)
    ).all()


def days_with_snapshots(session: Session, first: date, last: date) -> set[date]:
    return set(
        session.scalars(
            select(CoverageSnapshot.day).where(CoverageSnapshot.day >= first, CoverageSnapshot.day <= last).distinct()
        )
    )


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CoverageSnapshot)) or 0
