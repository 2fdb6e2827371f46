"""Who may do what: the matrix (:mod:`audit_portal.principals`, written as data) enforced by one
dependency that every route declares.

``MATRIX`` maps an action to the principals allowed to perform it. A route declares its action
with :class:`Authorize`, either as a parameter (``principal: Annotated[Principal,
Authorize("evidence:read")]``) or in ``dependencies=[Authorize("public")]``. The dependency

1. finds the principal: a service token (``Authorization: Bearer``, nothing else), a signed-in
   web session (cookie), or anonymous;
2. refuses what the matrix does not allow: anonymous on a page is sent to ``/login?next=...``,
   anonymous on ``/api`` gets 401, anyone else gets 403;
3. checks the CSRF token of every state-changing request made with a cookie;
4. leaves ``request.state.user``, ``.csrf_token`` and ``.nav`` for the templates.

``tests/security/test_matrix.py`` walks every route of the app and checks the decision for every
principal, so a route without ``Authorize`` fails the suite.
"""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from audit_portal.auth.identify import identify
from audit_portal.db import SessionDep
from audit_portal.errors import Forbidden, NotAuthenticated, wants_json
from audit_portal.i18n import N_, Word
from audit_portal.principals import (
    ANONYMOUS,
    ANONYMOUS_PRINCIPAL,
    COLLECTOR,
    EVERYONE,
    FRAMEWORK_ROUTES,
    MATRIX,
    PASSWORD_CHANGE_PAGE,
    ROLES,
    PasswordChangeRequired,
    Principal,
    Role,
    SignInRequired,
    allowed,
    principal_label,
)
from audit_portal.security import check_csrf, prepare_request_state


async def _submitted_csrf_token(request: Request) -> str | None:
    """The CSRF token a state-changing request carries: the ``X-CSRF-Token`` header (htmx,
    fetch, multipart uploads), else the ``csrf_token`` field of a url-encoded form. A multipart
    body is never read here, so streamed uploads stay streamed: they must send the header."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


class _Authorizer:
    """The callable behind :class:`Authorize`; carries its action for the route matrix test."""

    def __init__(self, action: str) -> None:
        if action not in MATRIX:
            raise ValueError(f"unknown action {action!r}: add it to authz.MATRIX first")
        self.action = action

    def __call__(
        self,
        request: Request,
        session: SessionDep,
        submitted_csrf: Annotated[str | None, Depends(_submitted_csrf_token)],
    ) -> Principal:
        identity = identify(request, session)
        # Identifying may write (a session's last_seen_at, a token's last_used_at): commit that at
        # once, so no request holds a write transaction while it renders a page or streams bytes
        # (on SQLite one held write blocks every other writer, sign-ins included).
        session.commit()
        principal = identity.principal
        prepare_request_state(request, session, identity)
        if not principal.is_anonymous and _must_change_password(request, identity, self.action):
            raise PasswordChangeRequired()
        if not allowed(self.action, principal.role):
            if principal.is_anonymous:
                if wants_json(request):
                    raise NotAuthenticated(N_("Sign in, or send a valid service token."))
                raise SignInRequired(_login_url(request))
            raise Forbidden(
                N_("Your role (%(role)s) may not do this (%(action)s)."),
                values={"role": Word(principal.role), "action": self.action},
            )
        if not principal.is_token:
            check_csrf(request, identity, submitted_csrf)
        return principal

    def __repr__(self) -> str:
        return f"Authorize({self.action!r})"


class Authorize(DependsParam):
    """``Authorize("evidence:read")``: the dependency every route declares."""

    def __init__(self, action: str) -> None:
        super().__init__(dependency=_Authorizer(action))

    @property
    def action(self) -> str:
        assert isinstance(self.dependency, _Authorizer)
        return self.dependency.action


# What a user who must change their password may reach (besides public routes: sign-out).
PASSWORD_CHANGE_ROUTES = frozenset({("GET", PASSWORD_CHANGE_PAGE), ("POST", "/profile/password")})


def _must_change_password(request: Request, identity: Any, action: str) -> bool:
    user = identity.user
    if action == "public" or user is None or not getattr(user, "password_must_change", False):
        return False
    return (request.method, request.url.path) not in PASSWORD_CHANGE_ROUTES


def _login_url(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return "/login?next=" + quote(path, safe="/")


def app_routes(app: Any) -> list[Any]:
    """Every route of the app, routers included, each with its effective dependencies."""
    from fastapi.routing import iter_route_contexts

    return list(iter_route_contexts(app.routes))


def route_action(route: Any) -> str | None:
    """The action a route declared with :class:`Authorize` (``None`` when it declared none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if isinstance(dependency.call, _Authorizer):
            return dependency.call.action
        stack.extend(dependency.dependencies)
    return None


# Alias for routes open to every signed-in person: ``def page(principal: SignedIn)``.
SignedIn = Annotated[Principal, Authorize("profile:self")]


__all__ = [
    "ANONYMOUS",
    "ANONYMOUS_PRINCIPAL",
    "COLLECTOR",
    "EVERYONE",
    "FRAMEWORK_ROUTES",
    "MATRIX",
    "PASSWORD_CHANGE_PAGE",
    "ROLES",
    "Authorize",
    "PasswordChangeRequired",
    "Principal",
    "Role",
    "SignInRequired",
    "SignedIn",
    "allowed",
    "principal_label",
    "route_action",
]
