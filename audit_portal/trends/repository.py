"""Snapshot queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from audit_portal.trends.models import CoverageSnapshot


def replace_day(session: Session, day: date, rows: Iterable[CoverageSnapshot]) -> None:
    """The snapshots of a day, replacing any taken before (a re-run gives the same rows)."""
    session.execute(delete(CoverageSnapshot).where(col(CoverageSnapshot.day) == day))
    session.add_all(list(rows))
    session.flush()


class OverallPoint(NamedTuple):
    day: date
    framework_key: str
    percent: float


def overall_between(session: Session, frameworks: Iterable[str], first: date, last: date) -> list[OverallPoint]:
    """The overall figure of each day, as plain rows: a year of them is drawn on every dashboard
    view, and ORM objects cost more to build than the query takes."""
    rows = session.execute(
        select(col(CoverageSnapshot.day), col(CoverageSnapshot.framework_key), col(CoverageSnapshot.percent))
        .where(
            col(CoverageSnapshot.framework_key).in_(list(frameworks)),
            col(CoverageSnapshot.group_key).is_(None),
            col(CoverageSnapshot.day) >= first,
            col(CoverageSnapshot.day) <= last,
        )
        .order_by(col(CoverageSnapshot.day))
    )
    return [OverallPoint(day, framework_key, percent) for day, framework_key, percent in rows]


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
