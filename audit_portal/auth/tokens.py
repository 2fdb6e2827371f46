"""Service tokens for collectors: shown once, stored as SHA-256, scoped to collector instances,
expiring and revocable. Used as ``Authorization: Bearer <token>``.

A token holds 256 random bits, so a fast hash is safe and lets the token be found by its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository
from audit_portal.auth.models import ServiceToken
from audit_portal.errors import InvalidInput, NotFound
from audit_portal.i18n import N_
from audit_portal.principals import Actor

TOKEN_PREFIX = "apt_"
MAX_DAYS = 730


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ServiceToken
    secret: str  # the only time the plain token exists outside the collector


def parse_scopes(text: str) -> list[str]:
    names = [part.strip() for part in text.replace(",", "\n").splitlines()]
    return sorted({name for name in names if name})


def create(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    days: int,
    actor: Actor,
) -> IssuedToken:
    name = name.strip()
    if not name:
        raise InvalidInput(N_("Give the token a name that says which collector host uses it."))
    if not scopes:
        raise InvalidInput(N_("Name at least one collector instance the token may push for."))
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(N_("A token expires after 1 to %(days)s days."), values={"days": MAX_DAYS})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.utcnow()
    token = ServiceToken(
        name=name[:100],
        token_hash=_hash(secret),
        scopes="\n".join(scopes),
        created_by=actor.principal.username,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="token.create",
        object_type="service_token",
        object_id=str(token.id),
        detail={"name": token.name, "scopes": scopes, "expires_at": token.expires_at.isoformat()},
    )
    return IssuedToken(token, secret)


def authenticate(session: Session, secret: str) -> ServiceToken | None:
    """The live token with this secret; None when unknown, expired or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = repository.token_by_hash(session, _hash(secret))
    now = clock.utcnow()
    if token is None or token.revoked_at is not None or clock.as_utc(token.expires_at) <= now:
        return None
    token.last_used_at = now
    session.flush()
    return token


def revoke(
    session: Session,
    token_id: int,
    *,
    actor: Actor,
) -> ServiceToken:
    token = repository.token_by_id(session, token_id)
    if token is None:
        raise NotFound(N_("No service token %(id)s."), values={"id": token_id})
    if token.revoked_at is None:
        token.revoked_at = clock.utcnow()
        session.flush()
        record_event(
            session,
            actor=actor,
            action="token.revoke",
            object_type="service_token",
            object_id=str(token.id),
            detail={"name": token.name},
        )
    return token


def scopes_of(token: ServiceToken) -> frozenset[str]:
    return frozenset(line for line in token.scopes.splitlines() if line)


def list_tokens(session: Session) -> list[ServiceToken]:
    return repository.all_tokens(session)
