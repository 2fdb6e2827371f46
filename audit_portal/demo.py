"""The demo organisation loaded by ``make run`` on an empty database.

Each domain contributes one step (a function taking a :class:`DemoContext`); the steps run in
order in one transaction, so a failed demo load leaves the database empty. Demo credentials are
printed only for a database marked as a demo, never for a real one.
"""

from __future__ import annotations

from rich.console import Console
from sqlmodel import Session

from audit_portal.audit.demo import demo_audit_checkpoint
from audit_portal.auth import repository as auth_repository
from audit_portal.auth.demo import add_demo_users
from audit_portal.catalogue.demo import demo_requirement_library
from audit_portal.clock import utcnow
from audit_portal.collection.demo import load_collection_demo
from audit_portal.config import Settings
from audit_portal.demo_context import DemoContext, DemoStep
from audit_portal.engagements.demo import demo_engagement
from audit_portal.evidence.demo import load_evidence_demo
from audit_portal.notifications.demo import demo_digest_addresses
from audit_portal.portal import service as portal_settings
from audit_portal.soa.demo import demo_statement_of_applicability
from audit_portal.trends.demo import demo_trend_and_report
from evidence_store import ObjectStore


def demo_steps() -> list[DemoStep]:
    """The steps in dependency order."""
    # The trend and the report summarise everything before them; the checkpoint signs the head of
    # the audit log the steps before it leave: keep these two last.
    return [
        add_demo_users,
        demo_digest_addresses,
        load_evidence_demo,
        load_collection_demo,
        demo_statement_of_applicability,
        demo_requirement_library,
        demo_engagement,
        demo_trend_and_report,
        demo_audit_checkpoint,
    ]


def database_is_empty(session: Session) -> bool:
    """Empty means: no demo marker and no account. The catalogue, the SoA defaults and their audit
    events are reference data that ``catalogue load`` writes before anyone signs in; a portal in
    use always has at least one account."""
    if portal_settings.is_demo(session):
        return False
    return not auth_repository.any_account_exists(session)


def load_demo(session: Session, store: ObjectStore, settings: Settings, console: Console) -> None:
    context = DemoContext(session=session, store=store, settings=settings, now=utcnow(), console=console)
    for step in demo_steps():
        console.print(f"demo: {step.__doc__.splitlines()[0] if step.__doc__ else step.__name__}")
        step(context)
        session.flush()
    portal_settings.set_value(session, portal_settings.DEMO_KEY, context.now.isoformat())
    portal_settings.set_value(session, "demo_logins", "\n".join("\t".join(login) for login in context.logins))


def print_demo_logins(session: Session, console: Console) -> None:
    if not portal_settings.is_demo(session):
        return
    logins = portal_settings.get_value(session, "demo_logins") or ""
    rows = [line.split("\t") for line in logins.splitlines() if line]
    if rows:
        console.print("demo sign-ins (demo database only):")
        for role, user, password in rows:
            console.print(f"  {role:11} {user:22} {password}", highlight=False)
        console.print(
            "  admin and auditor sign in with a second factor; this prints the current code:", highlight=False
        )
        # on a line of its own, never wrapped, so it can be copied as it is
        console.print(".venv/bin/audit-portal user totp USERNAME", highlight=False, soft_wrap=True)
