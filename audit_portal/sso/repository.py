"""Queries of the single sign-on tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlmodel import Session, col, select

from audit_portal.sso.models import SsoIdentity, SsoPendingLogin, SsoSession


def identity(session: Session, issuer: str, subject: str) -> SsoIdentity | None:
    return session.exec(
        select(SsoIdentity).where(col(SsoIdentity.issuer) == issuer, col(SsoIdentity.subject) == subject)
    ).first()


def take_pending(session: Session, state_hash: str) -> SsoPendingLogin | None:
    """The pending sign-in of a state, deleted in the same step: whoever comes second (a
    replay, or a second instance racing this one) finds nothing."""
    pending = session.get(SsoPendingLogin, state_hash)
    if pending is None:
        return None
    # A DELETE returns a CursorResult (it has the row count); SQLModel's Session.execute is typed
    # as returning a plain Result.
    deleted = cast(
        "CursorResult[Any]", session.execute(delete(SsoPendingLogin).where(col(SsoPendingLogin.id) == state_hash))
    )
    if deleted.rowcount != 1:
        return None
    session.expunge(pending)
    return pending


def delete_pending_before(session: Session, moment: datetime) -> None:
    session.execute(delete(SsoPendingLogin).where(col(SsoPendingLogin.created_at) < moment))


def id_token_of(session: Session, web_session_id: str) -> str | None:
    row = session.get(SsoSession, web_session_id)
    return row.id_token if row else None
