"""The audit scope: what a reader may see, decided in one place.

An external auditor sees only the engagements assigned to them, and only what falls within
those engagements' periods; it, admin and management see everything. Every page, partial,
export and API response that shows engagement data asks this module, aggregate views
included, and anything outside the scope answers exactly like something that does not exist
(404), so ids leak nothing.

This module owns:

- the period window of an engagement, ``[start, end + 1 day)`` in UTC (:func:`period_window`);
- the auditor's access window (:func:`access_problem`): access starts at ``valid_from`` and ends
  at ``valid_until``, so at exactly ``valid_until`` there is no access any more;
- which engagements a reader sees (:func:`visible_engagements`, :func:`may_see`,
  :func:`get_engagement`) and the evidence windows of an auditor (:class:`Scope`);
- recording an auditor's access as an audit event (:func:`record_access`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.auth.models import UserAccount
from audit_portal.engagements import repository
from audit_portal.engagements.models import Engagement
from audit_portal.errors import NotFound
from audit_portal.findings.models import Finding
from audit_portal.i18n import N_
from audit_portal.principals import Actor, Principal, Role

Window = tuple[datetime, datetime]

# One certification year, as the dashboard and reports look back over it.
CERTIFICATION_YEAR_DAYS = 365


class OutOfScope(NotFound):
    """Something the reader may not see: answered as 404, like something that does not exist,
    and recorded as a refused access (see audit_portal.audit.refusals)."""

    refusal_reason = "out of scope"


# --- time windows ---------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period_window(start: date, end: date) -> Window:
    """[start, end) of a period of whole days as aware UTC datetimes: the end day is included."""
    return day_start(start), day_start(end + timedelta(days=1))


def engagement_window(engagement: Engagement) -> Window:
    return period_window(engagement.period_start, engagement.period_end)


def certification_year(today: date) -> tuple[date, date]:
    """The certification year up to ``today``: the last 365 days, today included."""
    return today - timedelta(days=CERTIFICATION_YEAR_DAYS - 1), today


def access_problem(user: UserAccount, now: datetime | None = None) -> str | None:
    """Why ``user`` has no access now (revoked, or outside its access window), else None.
    Sign-in and every scoped view use this one answer, so they agree at ``valid_until``."""
    now = now or clock.utcnow()
    if user.revoked_at is not None:
        return "revoked"
    if user.valid_from is not None and now < clock.as_utc(user.valid_from):
        return "access window not started"
    if user.valid_until is not None and now >= clock.as_utc(user.valid_until):
        return "access window ended"
    return None


# --- what a reader sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What one reader may see. ``engagements`` is None for readers who see everything;
    for an auditor it holds their engagements (none outside their access window)."""

    engagements: tuple[Engagement, ...] | None

    @property
    def unrestricted(self) -> bool:
        return self.engagements is None

    @property
    def engagement_ids(self) -> frozenset[int] | None:
        if self.engagements is None:
            return None
        return frozenset(e.id for e in self.engagements if e.id is not None)

    @property
    def windows(self) -> list[Window] | None:
        """The periods an auditor may see evidence (and runs, reports) from; None: everything."""
        if self.engagements is None:
            return None
        return [engagement_window(e) for e in self.engagements]

    def sees_engagement(self, engagement_id: int | None) -> bool:
        ids = self.engagement_ids
        return ids is None or (engagement_id is not None and engagement_id in ids)

    def sees_moment(self, moment: datetime | None) -> bool:
        windows = self.windows
        if windows is None:
            return True
        if moment is None:
            return False
        moment = clock.as_utc(moment)
        return any(start <= moment < end for start, end in windows)

    def sees_day(self, day: date | None) -> bool:
        if self.unrestricted:
            return True
        return day is not None and self.sees_moment(day_start(day))

    def sees_finding(self, finding: Finding) -> bool:
        """An auditor's finding belongs to its engagement; a collector's finding to the moment
        it was raised."""
        if self.unrestricted:
            return True
        if finding.engagement_id is not None:
            return self.sees_engagement(finding.engagement_id)
        return self.sees_moment(finding.created_at)

    def default_engagement(self) -> Engagement | None:
        """The auditor's engagement shown when none is chosen: the one whose period ends last."""
        if not self.engagements:
            return None
        return self.engagements[0]


EVERYTHING = Scope(engagements=None)


def is_scoped(principal: Principal | None) -> bool:
    """Whether the reader's view is restricted to assigned engagements (the external auditor)."""
    return principal is not None and principal.role == Role.auditor


def scope_of(session: Session, principal: Principal | None) -> Scope:
    if not is_scoped(principal):
        return EVERYTHING
    assert principal is not None
    return Scope(engagements=tuple(_auditor_engagements(session, principal)))


def _auditor_engagements(session: Session, principal: Principal) -> list[Engagement]:
    if principal.user_id is None:
        return []
    user = auth_repository.user_by_id(session, principal.user_id)
    # Sign-in already refuses an auditor outside its window; a session that outlives the window
    # must not keep the engagements open either.
    if user is None or access_problem(user) is not None:
        return []
    return list(repository.list_for_auditor(session, principal.user_id))


def fellow_auditors(session: Session, principal: Principal | None) -> tuple[str, ...] | None:
    """The auditors whose work a scoped reader may see in the audit events: themselves and the
    auditors of their engagements. None for a reader who sees everything."""
    if not is_scoped(principal):
        return None
    assert principal is not None
    engagement_ids = [e.id for e in _auditor_engagements(session, principal) if e.id is not None]
    names = {user.username for users in auditors_of(session, engagement_ids).values() for user in users}
    return tuple(sorted(names | {principal.username}))


def for_engagement(principal: Principal | None, engagement: Engagement) -> Scope:
    """What a reader sees inside one engagement's pages: for an auditor, that engagement's
    period only (their other engagements have their own pages)."""
    return Scope(engagements=(engagement,)) if is_scoped(principal) else EVERYTHING


def visible_engagements(session: Session, principal: Principal) -> list[Engagement]:
    scope = scope_of(session, principal)
    if scope.engagements is not None:
        return list(scope.engagements)
    return list(repository.list_all(session))


def may_see(session: Session, principal: Principal, engagement: Engagement) -> bool:
    if principal.role in (Role.it, Role.admin):
        return True
    if principal.is_token and "coverage:read" in principal.scopes:
        return True  # a tool reading through the coverage API (audit_portal/coverage/api.py)
    if principal.role == Role.auditor:
        return scope_of(session, principal).sees_engagement(engagement.id)
    return False


def get_engagement(session: Session, principal: Principal, engagement_id: int) -> Engagement:
    """The engagement, or 404 when it does not exist or the reader may not see it."""
    engagement = repository.get(session, engagement_id)
    if engagement is None or not may_see(session, principal, engagement):
        raise OutOfScope(N_("There is no engagement %(id)s."), values={"id": engagement_id})
    return engagement


def within(scope: Scope, items: Iterable[Any], moment_of: Any) -> list[Any]:
    """The items the reader may see, judged by ``moment_of(item)`` (a datetime or None)."""
    if scope.unrestricted:
        return list(items)
    return [item for item in items if scope.sees_moment(moment_of(item))]


# --- recording access -----------------------------------------------------------------------


def record_access(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Every access by an auditor is an audit event (DESIGN); other roles' views are not
    recorded, as they would drown the log."""
    principal = actor.principal
    if is_scoped(principal):
        record_event(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )


def auditors_of(session: Session, engagement_ids: Iterable[int]) -> dict[int, list[UserAccount]]:
    """The accounts assigned to each engagement, by user name."""
    assigned = repository.auditor_ids_of(session, engagement_ids)
    accounts = auth_repository.users_by_ids(session, {i for ids in assigned.values() for i in ids})
    return {
        engagement_id: sorted((accounts[i] for i in ids if i in accounts), key=lambda user: user.username)
        for engagement_id, ids in assigned.items()
    }
