"""Queries for the digest: recipients, their preferences, and auditors' engagements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlmodel import Session, col

from audit_portal.auth.models import UserAccount
from audit_portal.engagements.models import EngagementAuditor
from audit_portal.notifications.models import DigestPreference


def recipients(session: Session, now: datetime) -> Sequence[tuple[UserAccount, DigestPreference]]:
    """Active users with an address who did not opt out."""
    rows = session.execute(
        select(UserAccount, DigestPreference)
        .join(DigestPreference, col(DigestPreference.user_id) == col(UserAccount.id))
        .where(
            col(DigestPreference.email).is_not(None),
            col(DigestPreference.opted_out).is_(False),
            col(UserAccount.revoked_at).is_(None),
            or_(col(UserAccount.valid_until).is_(None), col(UserAccount.valid_until) > now),
            or_(col(UserAccount.valid_from).is_(None), col(UserAccount.valid_from) <= now),
        )
        .order_by(col(UserAccount.username))
    )
    return [(user, preference) for user, preference in rows]


def preference(session: Session, user_id: int) -> DigestPreference | None:
    return session.get(DigestPreference, user_id)


def save(session: Session, item: DigestPreference) -> DigestPreference:
    session.add(item)
    session.flush()
    return item


def engagements_of_auditors(session: Session) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for row in session.scalars(select(EngagementAuditor)):
        result.setdefault(row.user_id, set()).add(row.engagement_id)
    return result
