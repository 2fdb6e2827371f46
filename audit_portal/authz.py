"""Who may do what: one matrix written as data, enforced by one dependency that every route
declares.

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
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from audit_portal.db import SessionDep
from audit_portal.errors import Forbidden, NotAuthenticated, wants_json


class Role(StrEnum):
    admin = "admin"
    it = "it"
    auditor = "auditor"
    management = "management"


COLLECTOR = "collector"  # the principal kind of service tokens
ANONYMOUS = "anonymous"

ROLES = frozenset(role.value for role in Role)
EVERYONE = ROLES | {COLLECTOR, ANONYMOUS}


def _allow(*who: str) -> frozenset[str]:
    return frozenset(who)


MATRIX: dict[str, frozenset[str]] = {
    # no sign-in needed: sign-in pages, health
    "public": EVERYONE,
    # every signed-in person (never a token)
    "profile:self": ROLES,
    "dashboard:read": ROLES,
    "catalogue:read": ROLES,
    "soa:read": ROLES,
    "soa:edit": _allow(Role.admin),
    # switching a library requirement off (with a reason) or back on
    "requirements:switch": _allow(Role.admin),
    # evidence
    "evidence:read": ROLES,
    "evidence:upload": _allow(Role.it, Role.admin),
    "evidence:push": _allow(COLLECTOR),
    "evidence:review": _allow(Role.auditor),
    "evidence:signoff": _allow(Role.it, Role.admin),
    "evidence:supersede": _allow(Role.it, Role.admin),
    "evidence:legal-hold": _allow(Role.admin),
    # collectors and their runs
    "collectors:read": _allow(Role.it, Role.admin, Role.auditor),
    "collectors:manage": _allow(Role.it, Role.admin),
    "collectors:run": _allow(Role.it, Role.admin),
    # a periodic human review (COM-1) counts only when someone with the it role signs it off
    "collectors:signoff": _allow(Role.it),
    # engagements and the audit workflow
    "engagements:read": _allow(Role.auditor, Role.it, Role.admin),
    "engagements:manage": _allow(Role.admin),
    "requests:read": _allow(Role.auditor, Role.it, Role.admin),
    "requests:create": _allow(Role.auditor),
    "requests:answer": _allow(Role.it, Role.admin),
    "findings:read": _allow(Role.auditor, Role.it, Role.admin, Role.management),
    "findings:manage": _allow(Role.auditor, Role.it, Role.admin),
    # recording what a finding says (category, severity, controls) is the auditor's judgement
    "findings:record": _allow(Role.auditor),
    "samples:manage": _allow(Role.auditor),
    "export:create": _allow(Role.auditor, Role.admin),
    "reports:read": _allow(Role.management, Role.admin, Role.auditor, Role.it),
    "reports:generate": _allow(Role.management, Role.admin),
    # administration
    "users:manage": _allow(Role.admin),
    "tokens:manage": _allow(Role.admin, Role.it),
    "settings:manage": _allow(Role.admin),
    "audit:read": _allow(Role.admin),
    # the read API for other tools: coverage, findings and requests as the pages show them
    "coverage:read": _allow(Role.auditor, Role.it, Role.admin, Role.management, COLLECTOR),
}


# Routes FastAPI and Starlette add themselves (API docs, static files): public by decision.
FRAMEWORK_ROUTES: dict[str, str] = {
    "/api/openapi.json": "public",
    "/api/docs": "public",
    "/docs/oauth2-redirect": "public",
    "/static": "public",
}


def allowed(action: str, who: str) -> bool:
    return who in MATRIX[action]


@dataclass(frozen=True)
class Principal:
    """Who is making the request. ``role`` is a :class:`Role` value, ``collector`` for a
    service token, or ``anonymous``."""

    role: str
    username: str = ""
    user_id: int | None = None
    token_id: int | None = None
    session_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.role == ANONYMOUS

    @property
    def is_token(self) -> bool:
        return self.token_id is not None

    def may_push_for(self, collector_instance: str) -> bool:
        """A token pushes evidence only for the collector instances in its scope."""
        return self.is_token and collector_instance in self.scopes


ANONYMOUS_PRINCIPAL = Principal(role=ANONYMOUS)


class SignInRequired(NotAuthenticated):
    """Anonymous on a page that needs sign-in: answered with a redirect to the sign-in page."""

    def __init__(self, login_url: str) -> None:
        super().__init__("Sign in to continue.")
        self.login_url = login_url


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
        from audit_portal.auth.identify import identify
        from audit_portal.security import check_csrf, prepare_request_state

        identity = identify(request, session)
        principal = identity.principal
        prepare_request_state(request, session, identity)
        if not allowed(self.action, principal.role):
            if principal.is_anonymous:
                if wants_json(request):
                    raise NotAuthenticated("Sign in, or send a valid service token.")
                raise SignInRequired(_login_url(request))
            raise Forbidden(f"Your role ({principal.role}) may not do this ({self.action}).")
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


def principal_label(principal: Principal | None) -> tuple[str, str]:
    """(actor, role) as the audit log records them."""
    if principal is None or principal.is_anonymous:
        return ANONYMOUS, ANONYMOUS
    return principal.username, principal.role


__all__ = [
    "ANONYMOUS",
    "COLLECTOR",
    "MATRIX",
    "Authorize",
    "Principal",
    "Role",
    "SignInRequired",
    "SignedIn",
    "allowed",
    "route_action",
]
