"""The main navigation: one entry per section, shown to the roles the matrix allows.

A domain adds its section here when its pages exist, so the menu never links to a page that is
not there or that the reader may not open.
"""
from __future__ import annotations

from dataclasses import dataclass

from audit_portal.principals import allowed


@dataclass(frozen=True)
class NavEntry:
    href: str
    label: str
    action: str


NAVIGATION: list[NavEntry] = [
    NavEntry("/", "Dashboard", "dashboard:read"),
    NavEntry("/catalogue", "Catalogue", "catalogue:read"),
    NavEntry("/soa", "SoA", "soa:read"),
    NavEntry("/collectors", "Collectors", "collectors:read"),
    NavEntry("/engagements", "Engagements", "engagements:read"),
    NavEntry("/findings", "Findings", "findings:read"),
    NavEntry("/reports", "Reports", "reports:read"),
    NavEntry("/notifications", "E-mail digest", "profile:self"),
    NavEntry("/evidence", "Evidence", "evidence:read"),
    NavEntry("/admin/users", "Users", "users:manage"),
    NavEntry("/admin/tokens", "Service tokens", "tokens:manage"),
    NavEntry("/admin/audit-log", "Audit log", "audit:read"),
]


def navigation_for(role: str) -> list[dict[str, str]]:
    return [{"href": e.href, "label": e.label} for e in NAVIGATION if allowed(e.action, role)]
