"""Sign-in throttling: 5 failures for one account, or 20 from one address, within 15 minutes
lock further attempts (for that account, or from that address) for 15 minutes.

Failures count for unknown user names as well, so a lockout says nothing about whether an
account exists. Attempts refused while locked are not counted again: the lock lasts 15 minutes
from the failure that set it, however often someone keeps trying.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository
from audit_portal.auth.models import LoginFailure, LoginLock

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
KIND_ACCOUNT = "account"
KIND_ADDRESS = "address"


def locked_until(session: Session, *, username: str, address: str) -> datetime | None:
    """When the newest lock on this account or this address ends; None when neither is locked."""
    now = clock.utcnow()
    locks = [
        repository.latest_lock(session, kind=KIND_ACCOUNT, key=username[:100], now=now),
        repository.latest_lock(session, kind=KIND_ADDRESS, key=address[:100], now=now),
    ]
    ends = [lock.locked_until for lock in locks if lock is not None]
    return max(ends) if ends else None


def register_failure(session: Session, *, username: str, address: str) -> None:
    now = clock.utcnow()
    since = now - WINDOW
    repository.delete_failures_before(session, since - WINDOW)
    repository.delete_locks_before(session, now - LOCK_DURATION)
    session.add(LoginFailure(username=username[:100], address=address[:64], at=now))
    session.flush()
    if repository.count_failures(session, username=username[:100], since=since) >= ACCOUNT_LIMIT:
        session.add(LoginLock(kind=KIND_ACCOUNT, key=username[:100], locked_until=now + LOCK_DURATION))
    if repository.count_failures(session, address=address[:64], since=since) >= ADDRESS_LIMIT:
        session.add(LoginLock(kind=KIND_ADDRESS, key=address[:100], locked_until=now + LOCK_DURATION))
    session.flush()


def register_success(session: Session, *, username: str) -> None:
    repository.delete_failures_of(session, username[:100])
    session.flush()
