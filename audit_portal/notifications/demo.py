"""Demo step: every demo user gave an e-mail address on their profile; all but the
administrator want the weekly digest."""

from __future__ import annotations

from audit_portal.auth import repository as accounts
from audit_portal.demo_context import DemoContext
from audit_portal.notifications import service
from audit_portal.principals import Actor, Principal

DEMO_ADDRESSES = {
    "admin": ("beheer@example-hosting.nl", False),
    "it.ops": ("it-ops@example-hosting.nl", True),
    "management": ("directie@example-hosting.nl", True),
    "auditor.ext": ("lead.auditor@certification-body.example", True),
}


def demo_digest_addresses(context: DemoContext) -> None:
    """E-mail addresses and digest choices of the demo users."""
    for username, (email, wants_digest) in DEMO_ADDRESSES.items():
        user = accounts.user_by_username(context.session, username)
        if user is None:
            continue
        actor = Actor(Principal(role=user.role, username=user.username, user_id=user.id))
        service.save_preference(context.session, actor=actor, email=email, wants_digest=wants_digest)
