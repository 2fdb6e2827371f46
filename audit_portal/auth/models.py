"""Tables of the accounts domain: users, their web sessions and recovery codes, failed sign-ins
and lockouts, and the service tokens collectors push with."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class UserAccount(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=255)
    password_changed_at: datetime
    # Set when an administrator issued the password (a new account or a reset): the user
    # reaches no page but the password change until they pick their own.
    password_must_change: bool = False
    # A secret without totp_enabled_at is an enrolment in progress (QR shown, not yet confirmed).
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled_at: datetime | None = None
    # The last accepted TOTP time step: a code is refused when used a second time.
    totp_last_step: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime
    # Personal settings: no value follows the browser's language and the organisation's time
    # zone.
    language: str | None = Field(default=None, max_length=8)
    time_zone: str | None = Field(default=None, max_length=64)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    # SHA-256 of the cookie value: a copy of the table does not hand out live sessions.
    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    stage: str = Field(max_length=20)
    csrf_token: str = Field(max_length=64)
    address: str | None = Field(default=None, max_length=64)
    created_at: datetime
    last_seen_at: datetime


class RecoveryCode(SQLModel, table=True):
    __tablename__ = "recovery_code"

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime
    used_at: datetime | None = None


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failure"

    id: int = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, index=True)
    address: str = Field(max_length=64, index=True)
    at: datetime


class LoginLock(SQLModel, table=True):
    __tablename__ = "login_lock"

    id: int = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    key: str = Field(max_length=100, index=True)
    locked_until: datetime


class ServiceToken(SQLModel, table=True):
    __tablename__ = "service_token"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # Collector instance names this token may push for, one per line.
    scopes: str = Field(max_length=2000)
    created_by: str = Field(max_length=100)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
