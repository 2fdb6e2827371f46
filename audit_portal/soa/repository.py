"""Statement of Applicability queries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session, col

from audit_portal.soa.models import SoaEntry


def entry_for(session: Session, control_id: int) -> SoaEntry | None:
    return session.get(SoaEntry, control_id)


def entries_for(session: Session, control_ids: Iterable[int]) -> dict[int, SoaEntry]:
    ids = set(control_ids)
    if not ids:
        return {}
    rows = session.scalars(select(SoaEntry).where(col(SoaEntry.control_id).in_(ids)))
    return {entry.control_id: entry for entry in rows}


def implemented_entries(session: Session) -> dict[int, SoaEntry]:
    """The entries of applicable controls marked implemented, by control id."""
    rows = session.scalars(
        select(SoaEntry).where(col(SoaEntry.applicable).is_(True), col(SoaEntry.status) == "implemented")
    )
    return {entry.control_id: entry for entry in rows}


def add(session: Session, entry: SoaEntry) -> None:
    session.add(entry)
