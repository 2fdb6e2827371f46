"""Who is making a request: a service token, a signed-in user, or nobody."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlmodel import Session

from audit_portal.auth import repository, sessions, tokens
from audit_portal.auth.models import UserAccount, WebSession
from audit_portal.auth.service import access_problem
from audit_portal.errors import NotAuthenticated
from audit_portal.i18n import N_
from audit_portal.principals import ANONYMOUS_PRINCIPAL, COLLECTOR, Principal


@dataclass(frozen=True)
class Identity:
    principal: Principal
    # The session the cookie names, in any stage (a half-finished sign-in has one too).
    web_session: WebSession | None = None
    user: UserAccount | None = None


def identify(request: Request, session: Session) -> Identity:
    cached = getattr(request.state, "identity", None)
    if isinstance(cached, Identity):
        return cached
    identity = _identify(request, session)
    request.state.identity = identity
    return identity


def _identify(request: Request, session: Session) -> Identity:
    authorization = request.headers.get("authorization", "")
    if authorization:
        # A bearer request is judged on its token alone: cookies are never looked at.
        scheme, _, secret = authorization.partition(" ")
        token = tokens.authenticate(session, secret.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise NotAuthenticated(N_("The service token is unknown, expired or revoked."))
        assert token.id is not None
        return Identity(
            Principal(
                role=COLLECTOR,
                username=f"token:{token.name}",
                token_id=token.id,
                scopes=tokens.scopes_of(token),
            )
        )
    settings = request.app.state.settings
    web_session = sessions.find_live(session, request.cookies.get(sessions.COOKIE_NAME), settings)
    if web_session is None:
        return Identity(ANONYMOUS_PRINCIPAL)
    user = repository.user_by_id(session, web_session.user_id)
    if user is None or access_problem(user):
        sessions.end(session, web_session)
        return Identity(ANONYMOUS_PRINCIPAL)
    if web_session.stage != sessions.STAGE_SIGNED_IN:
        return Identity(ANONYMOUS_PRINCIPAL, web_session, user)
    assert user.id is not None
    principal = Principal(role=user.role, username=user.username, user_id=user.id, session_id=web_session.id)
    return Identity(principal, web_session, user)
