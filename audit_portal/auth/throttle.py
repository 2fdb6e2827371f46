"""Sign-in throttling: 5 failures for one account, or 20 from one address, within 15 minutes
lock further attempts (for that account, or from that address) for 15 minutes.

Failures count for unknown user names as well, so a lockout says nothing about whether an
account exists. Attempts refused while locked are not counted again: the lock lasts 15 minutes
from the failure that set it, however often someone keeps trying.

A browser where the account signed in before (a known device, auth/devices.py) is throttled on
its own: 5 failures lock that device for 15 minutes, and the account and address locks that
strangers set do not apply to it, so nobody can lock an account's owner out by guessing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from audit_portal import clock
from audit_portal.auth import repository
from audit_portal.auth.devices import KnownDevice
from audit_portal.auth.models import LoginFailure, LoginLock

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
KIND_ACCOUNT = "account"
KIND_ADDRESS = "address"
KIND_DEVICE = "device"
# Failures of a known device are counted under this pseudo user name (user names have no ':').
DEVICE_PREFIX = "device:"


def _device_key(device: KnownDevice) -> str:
    return (DEVICE_PREFIX + device.device_id)[:100]


def locked_until(
    session: Session, *, username: str, address: str, device: KnownDevice | None = None
) -> datetime | None:
    """When the newest lock on this account or this address ends (on this device, for a known
    device); None when there is none."""
    now = clock.utcnow()
    if device is not None:
        locks = [repository.latest_lock(session, kind=KIND_DEVICE, key=_device_key(device), now=now)]
    else:
        locks = [
            repository.latest_lock(session, kind=KIND_ACCOUNT, key=username[:100], now=now),
            repository.latest_lock(session, kind=KIND_ADDRESS, key=address[:100], now=now),
        ]
    ends = [lock.locked_until for lock in locks if lock is not None]
    return max(ends) if ends else None


def register_failure(session: Session, *, username: str, address: str, device: KnownDevice | None = None) -> None:
    now = clock.utcnow()
    since = now - WINDOW
    repository.delete_failures_before(session, since - WINDOW)
    repository.delete_locks_before(session, now - LOCK_DURATION)
    if device is not None:
        key = _device_key(device)
        session.add(LoginFailure(username=key, address=address[:64], at=now))
        session.flush()
        if repository.count_failures(session, username=key, since=since) >= ACCOUNT_LIMIT:
            session.add(LoginLock(kind=KIND_DEVICE, key=key, locked_until=now + LOCK_DURATION))
            session.flush()
        return
    session.add(LoginFailure(username=username[:100], address=address[:64], at=now))
    session.flush()
    if repository.count_failures(session, username=username[:100], since=since) >= ACCOUNT_LIMIT:
        session.add(LoginLock(kind=KIND_ACCOUNT, key=username[:100], locked_until=now + LOCK_DURATION))
    if repository.count_failures(session, address=address[:64], since=since) >= ADDRESS_LIMIT:
        session.add(LoginLock(kind=KIND_ADDRESS, key=address[:100], locked_until=now + LOCK_DURATION))
    session.flush()


def register_success(session: Session, *, username: str, device: KnownDevice | None = None) -> None:
    repository.delete_failures_of(session, username[:100])
    if device is not None:
        repository.delete_failures_of(session, _device_key(device))
    session.flush()
