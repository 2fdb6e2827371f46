"""Tables of single sign-on: which provider identity is which account, sign-ins under way,
and the id token of each SSO session (sent back to the provider on sign-out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class SsoIdentity(SQLModel, table=True):
    """An account is found by the provider's (issuer, subject), never by a user name the
    provider lets people choose."""

    __tablename__ = "sso_identity"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_sso_identity_issuer_subject"),)

    id: int = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    # The groups the provider asserted at the last sign-in (shown to administrators).
    groups: list[Any] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime
    last_login_at: datetime | None = None


class SsoPendingLogin(SQLModel, table=True):
    """A sign-in sent to the provider and not back yet. The id is the SHA-256 of the state; the
    row is deleted when the provider's answer arrives, so a replayed answer finds nothing."""

    __tablename__ = "sso_pending_login"

    id: str = Field(primary_key=True, max_length=64)
    # SHA-256 of a random value in a cookie of the browser that started the sign-in: an answer
    # delivered to another browser (login CSRF) does not match.
    browser_hash: str = Field(max_length=64)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    next_path: str = Field(max_length=2000)
    created_at: datetime


class SsoSession(SQLModel, table=True):
    __tablename__ = "sso_session"

    web_session_id: str = Field(foreign_key="web_session.id", primary_key=True, max_length=64, ondelete="CASCADE")
    id_token: str = Field(sa_type=sa.Text)
