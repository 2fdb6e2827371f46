"""Server-side web sessions: a random id in an HttpOnly cookie, the row in the database.

A session is in stage ``second_factor`` between a correct password and the TOTP step, and
``signed_in`` after. It ends on sign-out, after the idle timeout, after the absolute timeout, or
when the account's password changes or the account is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository
from audit_portal.auth.models import UserAccount, WebSession
from audit_portal.config import Settings

COOKIE_NAME = "portal_session"
STAGE_SECOND_FACTOR = "second_factor"
STAGE_SIGNED_IN = "signed_in"
# The TOTP step must follow the password soon; a half-finished sign-in does not linger.
SECOND_FACTOR_MINUTES = 10
# Touching last_seen_at on every request would write on every page view; a minute is precise
# enough for a 30-minute idle timeout.
TOUCH_AFTER = timedelta(seconds=60)


def _session_id(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class StartedSession:
    cookie_value: str
    web_session: WebSession


def start(session: Session, *, user: UserAccount, stage: str, address: str | None) -> StartedSession:
    assert user.id is not None
    cookie_value = secrets.token_urlsafe(32)
    now = clock.utcnow()
    web_session = WebSession(
        id=_session_id(cookie_value),
        user_id=user.id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        address=address,
        created_at=now,
        last_seen_at=now,
    )
    session.add(web_session)
    session.flush()
    return StartedSession(cookie_value, web_session)


def find_live(session: Session, cookie_value: str | None, settings: Settings) -> WebSession | None:
    """The session a cookie names, unless it has expired (an expired one is deleted)."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    web_session = repository.web_session_by_id(session, _session_id(cookie_value))
    if web_session is None:
        return None
    now = clock.utcnow()
    if _expired(web_session, settings, now):
        session.delete(web_session)
        session.flush()
        return None
    if now - web_session.last_seen_at >= TOUCH_AFTER:
        web_session.last_seen_at = now
        session.flush()
    return web_session


def _expired(web_session: WebSession, settings: Settings, now: datetime) -> bool:
    if web_session.stage == STAGE_SECOND_FACTOR:
        return now - web_session.created_at > timedelta(minutes=SECOND_FACTOR_MINUTES)
    idle = timedelta(minutes=settings.session_idle_minutes)
    absolute = timedelta(hours=settings.session_absolute_hours)
    return now - web_session.last_seen_at > idle or now - web_session.created_at > absolute


def end(session: Session, web_session: WebSession) -> None:
    session.delete(web_session)
    session.flush()


def end_all_of(session: Session, user_id: int, *, keep: str | None = None) -> None:
    repository.delete_sessions_of(session, user_id, keep=keep)
    session.flush()
