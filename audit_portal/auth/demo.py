"""Demo step: one user of each role, with random passwords generated at load time, and their
personal settings: management reads the portal in Dutch, the external auditor in English, IT and
the administrator follow their browser."""

from __future__ import annotations

from datetime import timedelta

from audit_portal.auth import passwords, second_factor
from audit_portal.auth import service as auth_service
from audit_portal.demo_context import DemoContext
from audit_portal.principals import Actor, Principal, Role

DEMO_USERS = (
    (Role.admin, "admin"),
    (Role.it, "it.ops"),
    (Role.auditor, "auditor.ext"),
    (Role.management, "management"),
)
# username: (language, time zone); None follows the browser and the organisation's zone.
DEMO_PERSONAL_SETTINGS = {
    "management": ("nl", None),
    "auditor.ext": ("en", "Europe/London"),
}


def add_demo_users(context: DemoContext) -> None:
    """Users of each role (admin and auditor with two-factor sign-in already enrolled)."""
    session = context.session
    for role, username in DEMO_USERS:
        window = auth_service.AccessWindow()
        if role == Role.auditor:
            window = auth_service.AccessWindow(context.now - timedelta(days=1), context.now + timedelta(days=90))
        password = passwords.generate_password()
        user = auth_service.create_user(
            session,
            username=username,
            role=role.value,
            password=password,
            window=window,
            actor=Actor.system("demo"),
        )
        if auth_service.second_factor_required(session, user):
            # Pre-enrolled so a newcomer can sign in without a phone: `audit-portal user totp
            # USERNAME` prints the current code, on demo databases only.
            user.totp_secret = second_factor.new_secret()
            user.totp_enabled_at = context.now
            second_factor.replace_recovery_codes(session, user)
        language, time_zone = DEMO_PERSONAL_SETTINGS.get(username, ("", None))
        auth_service.update_personal_settings(
            session,
            user,
            language=language or "",
            time_zone=time_zone or "",
            actor=Actor(Principal(role=user.role, username=user.username, user_id=user.id)),
        )
        context.logins.append((role.value, username, password))
    context.console.print(
        "demo: admin and auditor.ext sign in with a second factor; "
        "'audit-portal user totp admin' prints the current code (demo databases only)",
        highlight=False,
    )
