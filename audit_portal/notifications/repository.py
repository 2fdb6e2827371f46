"""Queries for the digest: recipients, their preferences, and auditors' engagements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import Session, col

from audit_portal.notifications.models import DigestPreference


def preferences_with_address(session: Session) -> Sequence[DigestPreference]:
    """The preferences of users who gave an address and did not opt out."""
    return session.scalars(
        select(DigestPreference).where(
            col(DigestPreference.email).is_not(None),
            col(DigestPreference.opted_out).is_(False),
        )
    ).all()


def preference(session: Session, user_id: int) -> DigestPreference | None:
    return session.get(DigestPreference, user_id)


def save(session: Session, item: DigestPreference) -> DigestPreference:
    session.add(item)
    session.flush()
    return item
