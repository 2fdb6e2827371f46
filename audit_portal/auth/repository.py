"""Queries of the accounts domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from audit_portal.auth.models import (
    LoginFailure,
    LoginLock,
    RecoveryCode,
    ServiceToken,
    UserAccount,
    WebSession,
)


def user_by_username(session: Session, username: str) -> UserAccount | None:
    return session.exec(select(UserAccount).where(col(UserAccount.username) == username)).first()


def any_account_exists(session: Session) -> bool:
    return session.execute(select(col(UserAccount.id)).limit(1)).first() is not None


def user_by_id(session: Session, user_id: int) -> UserAccount | None:
    return session.get(UserAccount, user_id)


def all_users(session: Session) -> list[UserAccount]:
    return list(session.exec(select(UserAccount).order_by(col(UserAccount.username))).all())


def web_session_by_id(session: Session, session_id: str) -> WebSession | None:
    return session.get(WebSession, session_id)


def delete_sessions_of(session: Session, user_id: int, *, keep: str | None = None) -> None:
    statement = delete(WebSession).where(col(WebSession.user_id) == user_id)
    if keep is not None:
        statement = statement.where(col(WebSession.id) != keep)
    session.execute(statement)


def count_sessions_of(session: Session, user_id: int) -> int:
    statement = select(func.count()).select_from(WebSession).where(col(WebSession.user_id) == user_id)
    return int(session.exec(statement).one())


def unused_recovery_code(session: Session, user_id: int, code_hash: str) -> RecoveryCode | None:
    statement = select(RecoveryCode).where(
        col(RecoveryCode.user_id) == user_id,
        col(RecoveryCode.code_hash) == code_hash,
        col(RecoveryCode.used_at).is_(None),
    )
    return session.exec(statement).first()


def count_unused_recovery_codes(session: Session, user_id: int) -> int:
    statement = (
        select(func.count())
        .select_from(RecoveryCode)
        .where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
    )
    return int(session.exec(statement).one())


def delete_recovery_codes(session: Session, user_id: int) -> None:
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))


def count_failures(
    session: Session, *, username: str | None = None, address: str | None = None, since: datetime
) -> int:
    statement = select(func.count()).select_from(LoginFailure).where(col(LoginFailure.at) >= since)
    if username is not None:
        statement = statement.where(col(LoginFailure.username) == username)
    if address is not None:
        statement = statement.where(col(LoginFailure.address) == address)
    return int(session.exec(statement).one())


def delete_failures_of(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(col(LoginFailure.username) == username))


def delete_failures_before(session: Session, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(col(LoginFailure.at) < before))


def latest_lock(session: Session, *, kind: str, key: str, now: datetime) -> LoginLock | None:
    statement = (
        select(LoginLock)
        .where(col(LoginLock.kind) == kind, col(LoginLock.key) == key, col(LoginLock.locked_until) > now)
        .order_by(col(LoginLock.locked_until).desc())
    )
    return session.exec(statement).first()


def delete_locks_before(session: Session, before: datetime) -> None:
    session.execute(delete(LoginLock).where(col(LoginLock.locked_until) < before))


def token_by_hash(session: Session, token_hash: str) -> ServiceToken | None:
    return session.exec(select(ServiceToken).where(col(ServiceToken.token_hash) == token_hash)).first()


def token_by_id(session: Session, token_id: int) -> ServiceToken | None:
    return session.get(ServiceToken, token_id)


def all_tokens(session: Session) -> list[ServiceToken]:
    return list(session.exec(select(ServiceToken).order_by(col(ServiceToken.created_at).desc())).all())


def usernames(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(col(UserAccount.id), col(UserAccount.username)).where(col(UserAccount.id).in_(ids)))
    return {user_id: name for user_id, name in rows}


def active_users(session: Session, user_ids: Iterable[int], now: datetime) -> list[UserAccount]:
    """The users among ``user_ids`` whose account is not revoked and is valid at ``now``, by name."""
    wanted = set(user_ids)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(UserAccount)
            .where(
                col(UserAccount.id).in_(wanted),
                col(UserAccount.revoked_at).is_(None),
                or_(col(UserAccount.valid_until).is_(None), col(UserAccount.valid_until) > now),
                or_(col(UserAccount.valid_from).is_(None), col(UserAccount.valid_from) <= now),
            )
            .order_by(col(UserAccount.username))
        )
    )


def auditor_accounts(session: Session) -> Sequence[UserAccount]:
    return session.scalars(
        select(UserAccount)
        .where(col(UserAccount.role) == "auditor", col(UserAccount.revoked_at).is_(None))
        .order_by(col(UserAccount.username))
    ).all()


def users_by_ids(session: Session, ids: Iterable[int]) -> dict[int, UserAccount]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(UserAccount).where(col(UserAccount.id).in_(wanted)))}
