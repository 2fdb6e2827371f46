"""Who is acting and what each role may do: the roles, the principal of a request, and the
authorization matrix written as data.

This is a leaf module: services, the audit log and the navigation read it without importing the
web dependency that enforces it (:mod:`audit_portal.authz`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from audit_portal.errors import Forbidden, NotAuthenticated
from audit_portal.i18n import N_


class Role(StrEnum):
    admin = "admin"
    it = "it"
    auditor = "auditor"
    management = "management"


COLLECTOR = "collector"  # the principal kind of service tokens
ANONYMOUS = "anonymous"
SYSTEM = "system"  # the principal kind of work nobody asked for over HTTP: scheduler, CLI, demo

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
    # what IT decided about a security advisory (ORG-2): not applicable, patched, mitigated
    "advisories:decide": _allow(Role.it),
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
    # verifying and closing a finding (or accepting its risk) is the auditor's alone
    "findings:verify": _allow(Role.auditor),
    # switching a library requirement off (with a reason) or back on
    "requirements:switch": _allow(Role.admin),
    # the read API for other tools: coverage, findings and requests as the pages show them
    "coverage:read": _allow(Role.auditor, Role.it, Role.admin, Role.management, COLLECTOR),
    "samples:manage": _allow(Role.auditor),
    "export:create": _allow(Role.auditor, Role.admin),
    "reports:read": _allow(Role.management, Role.admin, Role.auditor, Role.it),
    "reports:generate": _allow(Role.management, Role.admin),
    # administration
    "users:manage": _allow(Role.admin),
    "tokens:manage": _allow(Role.admin, Role.it),
    "settings:manage": _allow(Role.admin),
    "audit:read": _allow(Role.admin),
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

    @property
    def account_id(self) -> int:
        """The id of the user account acting, for work only a person does (a sample drawn, a
        digest preference saved). A principal without an account (a service token, the system,
        nobody signed in) is refused with :class:`Forbidden`."""
        if self.user_id is None:
            raise Forbidden(N_("Only a signed-in person can do this."))
        return self.user_id

    def may_push_for(self, collector_instance: str) -> bool:
        """A token pushes evidence only for the collector instances in its scope."""
        return self.is_token and collector_instance in self.scopes


ANONYMOUS_PRINCIPAL = Principal(role=ANONYMOUS)


@dataclass(frozen=True)
class Actor:
    """Who does something and from where, as services and the audit log need it: the principal
    and the client address (``None`` for work that did not come over the network).

    The web layer builds one from a request (:func:`audit_portal.request_actor.actor_of`); work
    the portal does by itself (scheduler, CLI, demo, maintenance) uses :meth:`system`; nobody
    signed in yet (a sign-in attempt) is :meth:`anonymous`.
    """

    principal: Principal
    address: str | None = None

    @classmethod
    def system(cls, purpose: str) -> Actor:
        """The one convention for system work: role ``system``, user name ``system:<purpose>``
        (``system:scheduler``, ``system:cli``, ``system:demo``), no address."""
        return cls(Principal(role=SYSTEM, username=f"{SYSTEM}:{purpose}"))

    @classmethod
    def anonymous(cls, address: str | None = None) -> Actor:
        """Nobody is signed in (yet): a sign-in attempt from ``address``."""
        return cls(ANONYMOUS_PRINCIPAL, address)

    @property
    def is_system(self) -> bool:
        return self.principal.role == SYSTEM


class SignInRequired(NotAuthenticated):
    """Anonymous on a page that needs sign-in: answered with a redirect to the sign-in page."""

    def __init__(self, login_url: str) -> None:
        super().__init__(N_("Sign in to continue."))
        self.login_url = login_url


def principal_label(principal: Principal | None) -> tuple[str, str]:
    """(actor, role) as the audit log records them."""
    if principal is None or principal.is_anonymous:
        return ANONYMOUS, ANONYMOUS
    return principal.username, principal.role


class PasswordChangeRequired(Forbidden):
    """A signed-in user whose password an administrator issued, on any page but the change:
    a browser is sent to ``PASSWORD_CHANGE_PAGE``, an API client gets 403."""

    def __init__(self) -> None:
        super().__init__(N_("Change the password an administrator gave you before you go on."))


PASSWORD_CHANGE_PAGE = "/profile"
