"""``audit-portal user ...`` and ``audit-portal token ...``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from audit_portal.console import console, fail, settings_or_exit
from audit_portal.principals import Actor

user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Service tokens for collectors.", no_args_is_help=True)


def _engine():
    from audit_portal.db import make_engine

    return make_engine(settings_or_exit().database_url)


def _date(value: str | None, option: str) -> datetime | None:
    from audit_portal import clock

    if not value:
        return None
    try:
        return clock.as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise fail(f"{option}: use a date like 2026-12-31") from None


@user_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="the sign-in name")],
    role: Annotated[str, typer.Option("--role", help="admin, it, auditor or management")],
    valid_from: Annotated[str | None, typer.Option(help="auditors: first day of access (YYYY-MM-DD)")] = None,
    valid_until: Annotated[str | None, typer.Option(help="auditors: access ends at this moment (YYYY-MM-DD)")] = None,
    password: Annotated[
        str | None, typer.Option(help="the password; prompted for when omitted, generated with --generate")
    ] = None,
    generate: Annotated[bool, typer.Option("--generate", help="generate a random password and print it")] = False,
) -> None:
    """Create a user account."""
    from audit_portal.auth import passwords
    from audit_portal.auth import service as auth_service
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError

    window = auth_service.AccessWindow(_date(valid_from, "--valid-from"), _date(valid_until, "--valid-until"))
    if generate:
        password = passwords.generate_password()
    elif password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work(_engine()) as session:
            user = auth_service.create_user(
                session,
                username=username,
                role=role,
                password=password,
                window=window,
                actor=Actor.system("cli"),
                must_change_password=generate,  # a generated password is handed over: the user replaces it
            )
            name = user.username
    except PortalError as error:
        raise fail(error.detail) from None
    console.print(f"user {name} ({role}) created", highlight=False)
    if generate:
        console.print(f"password: {password}", highlight=False)


@user_app.command("reset-2fa")
def reset_2fa(username: Annotated[str, typer.Argument(help="the user")]) -> None:
    """Forget a user's TOTP device and recovery codes (after a lost phone)."""
    from audit_portal.auth import service as auth_service
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError

    try:
        with unit_of_work(_engine()) as session:
            user = auth_service.user_named(session, username)
            auth_service.reset_second_factor(session, user, actor=Actor.system("cli"))
    except PortalError as error:
        raise fail(error.detail) from None
    console.print(f"two-factor sign-in of {username} reset; the next sign-in enrols a new device", highlight=False)


@user_app.command("totp")
def current_totp(username: Annotated[str, typer.Argument(help="a demo user")]) -> None:
    """Print the current sign-in code of a demo user (demo databases only)."""
    from audit_portal.auth import second_factor
    from audit_portal.auth import service as auth_service
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError
    from audit_portal.portal import service as portal_settings

    try:
        with unit_of_work(_engine()) as session:
            if not portal_settings.is_demo(session):
                raise fail("this is not a demo database: codes come from the user's authenticator app")
            user = auth_service.user_named(session, username)
            secret = user.totp_secret
    except PortalError as error:
        raise fail(error.detail) from None
    if not secret:
        raise fail(f"{username} has no two-factor device")
    console.print(second_factor.current_code(secret), highlight=False)


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="what uses it, e.g. the collector host")],
    scope: Annotated[list[str], typer.Option("--scope", help="a collector instance it may push for (repeat)")],
    days: Annotated[int, typer.Option(help="days until it expires")] = 90,
) -> None:
    """Create a service token; it is printed once and stored only as a hash."""
    from audit_portal.auth import tokens
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError

    try:
        with unit_of_work(_engine()) as session:
            issued = tokens.create(
                session, name=name, scopes=tokens.parse_scopes("\n".join(scope)), days=days, actor=Actor.system("cli")
            )
            token_id, expires = issued.token.id, issued.token.expires_at
    except PortalError as error:
        raise fail(error.detail) from None
    console.print(
        f"token {token_id} ({name}), expires {expires:%Y-%m-%d}; store it now, it is not shown again:", highlight=False
    )
    console.print(issued.secret, highlight=False, soft_wrap=True)


@token_app.command("revoke")
def revoke_token(token_id: Annotated[int, typer.Argument(help="the token's id")]) -> None:
    """Revoke a service token at once."""
    from audit_portal.auth import tokens
    from audit_portal.db import unit_of_work
    from audit_portal.errors import PortalError

    try:
        with unit_of_work(_engine()) as session:
            token = tokens.revoke(session, token_id, actor=Actor.system("cli"))
            name = token.name
    except PortalError as error:
        raise fail(error.detail) from None
    console.print(f"token {token_id} ({name}) revoked", highlight=False)


@token_app.command("list")
def list_tokens() -> None:
    """List service tokens (never their secrets)."""
    from audit_portal import clock
    from audit_portal.auth import tokens
    from audit_portal.db import unit_of_work

    now = clock.utcnow()
    with unit_of_work(_engine()) as session:
        for token in tokens.list_tokens(session):
            state = (
                "revoked" if token.revoked_at else ("expired" if clock.as_utc(token.expires_at) <= now else "active")
            )
            scopes = ",".join(sorted(tokens.scopes_of(token)))
            console.print(
                f"{token.id:5} {state:8} {token.expires_at:%Y-%m-%d} {token.name}  [{scopes}]", highlight=False
            )
