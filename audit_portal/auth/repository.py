"""Queries of the accounts domain."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, select

from audit_portal.auth.models import (
    LoginFailure,
    LoginLock,
    RecoveryCode,
    ServiceToken,
    UserAccount,
    WebSession,
)


def user_by_username(session: Session, username: str) -> UserAccount | None:
    return session.exec(select(UserAccount).where(UserAccount.username == username)).first()


def user_by_id(session: Session, user_id: int) -> UserAccount | None:
    return session.get(UserAccount, user_id)


def all_users(session: Session) -> list[UserAccount]:
    return list(session.exec(select(UserAccount).order_by(UserAccount.username)).all())


def web_session_by_id(session: Session, session_id: str) -> WebSession | None:
    return session.get(WebSession, session_id)


def delete_sessions_of(session: Session, user_id: int, *, keep: str | None = None) -> None:
    statement = delete(WebSession).where(WebSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(WebSession.id != keep)
    session.execute(statement)


def count_sessions_of(session: Session, user_id: int) -> int:
    statement = select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)
    return int(session.exec(statement).one())


def unused_recovery_code(session: Session, user_id: int, code_hash: str) -> RecoveryCode | None:
    statement = select(RecoveryCode).where(
        RecoveryCode.user_id == user_id,
        RecoveryCode.code_hash == code_hash,
        RecoveryCode.used_at.is_(None),  # type: ignore[union-attr]
    )
    return session.exec(statement).first()


def count_unused_recovery_codes(session: Session, user_id: int) -> int:
    statement = select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)  # type: ignore[union-attr]
    )
    return int(session.exec(statement).one())


def delete_recovery_codes(session: Session, user_id: int) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def count_failures(session: Session, *, username: str | None = None, address: str | None = None,
                   since: datetime) -> int:
    statement = select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since)
    if username is not None:
        statement = statement.where(LoginFailure.username == username)
    if address is not None:
        statement = statement.where(LoginFailure.address == address)
    return int(session.exec(statement).one())


def delete_failures_of(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


def delete_failures_before(session: Session, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < before))


def latest_lock(session: Session, *, kind: str, key: str, now: datetime) -> LoginLock | None:
    statement = (
        select(LoginLock)
        .where(LoginLock.kind == kind, LoginLock.key == key, LoginLock.locked_until > now)
        .order_by(LoginLock.locked_until.desc())  # type: ignore[attr-defined]
    )
    return session.exec(statement).first()


def delete_locks_before(session: Session, before: datetime) -> None:
    session.execute(delete(LoginLock).where(LoginLock.locked_until < before))


def token_by_hash(session: Session, token_hash: str) -> ServiceToken | None:
    return session.exec(select(ServiceToken).where(ServiceToken.token_hash == token_hash)).first()


def token_by_id(session: Session, token_id: int) -> ServiceToken | None:
    return session.get(ServiceToken, token_id)


def all_tokens(session: Session) -> list[ServiceToken]:
    return list(session.exec(select(ServiceToken).order_by(ServiceToken.created_at.desc())).all())  # type: ignore[attr-defined]
