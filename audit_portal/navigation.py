"""The main navigation: one entry per section, shown to the roles the matrix allows.

A domain adds its section here when its pages exist, so the menu never links to a page that is
not there or that the reader may not open.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit_portal.i18n import N_
from audit_portal.principals import allowed


@dataclass(frozen=True)
class NavEntry:
    href: str
    label: str  # English, marked for extraction; the base layout translates it
    action: str


NAVIGATION: list[NavEntry] = [
    NavEntry("/", N_("Dashboard"), "dashboard:read"),
    NavEntry("/catalogue", N_("Catalogue"), "catalogue:read"),
    NavEntry("/soa", N_("SoA"), "soa:read"),
    NavEntry("/collectors", N_("Collectors"), "collectors:read"),
    NavEntry("/engagements", N_("Engagements"), "engagements:read"),
    NavEntry("/findings", N_("Findings"), "findings:read"),
    NavEntry("/reports", N_("Reports"), "reports:read"),
    NavEntry("/profile", N_("Personal settings"), "profile:self"),
    NavEntry("/evidence", N_("Evidence"), "evidence:read"),
    NavEntry("/admin/users", N_("Users"), "users:manage"),
    NavEntry("/admin/tokens", N_("Service tokens"), "tokens:manage"),
    NavEntry("/admin/audit-log", N_("Audit log"), "audit:read"),
]


def navigation_for(role: str) -> list[dict[str, str]]:
    return [{"href": e.href, "label": e.label} for e in NAVIGATION if allowed(e.action, role)]
