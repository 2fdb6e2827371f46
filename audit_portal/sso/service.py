"""Single sign-on: start a sign-in at the provider, and turn its answer into a portal session.

Accounts are created on first sign-in ("just in time") and found again by the provider's
(issuer, subject). The role comes from the provider's groups through the configured mapping at
every sign-in, so a change in the directory takes effect at the next sign-in; a user with no
mapped group has an account without any access. The portal's own second factor applies unless
the provider asserts that it checked one (``amr``/``acr``); auditors' access windows apply as
for password accounts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as accounts
from audit_portal.auth import second_factor, sessions
from audit_portal.auth.models import UserAccount
from audit_portal.auth.service import (
    NO_ACCESS,
    USERNAME_PATTERN,
    SignInRefused,
    SignInStep,
    access_problem,
    normalise_username,
    second_factor_required,
)
from audit_portal.config import Settings
from audit_portal.i18n import N_
from audit_portal.principals import Actor, Role
from audit_portal.sso import repository
from audit_portal.sso.models import SsoIdentity, SsoPendingLogin, SsoSession
from audit_portal.sso.provider import OpenIdProvider, ProviderError

# The role of an account the directory gives no portal role: it cannot sign in. Not in the
# authorization matrix, so no session ever carries it.
NO_ROLE = "none"
# When groups map to several roles, the first of these wins.
ROLE_PRECEDENCE = (Role.admin.value, Role.it.value, Role.management.value, Role.auditor.value)
PENDING_MINUTES = 10
BROWSER_COOKIE = "portal_sso"
UNUSABLE_PASSWORD = "!sso"  # never verifies: SSO accounts have no password

NO_MAPPED_GROUP = N_(
    "Your account has no role in the portal yet: none of your groups is mapped to a portal role. Ask an administrator."
)
STALE_SIGN_IN = N_("This sign-in was used already or has expired. Start again.")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class StartedSignIn:
    url: str
    browser_secret: str  # goes into the BROWSER_COOKIE, bound to this sign-in


def begin(session: Session, provider: OpenIdProvider, *, next_path: str) -> StartedSignIn:
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    browser_secret = secrets.token_urlsafe(32)
    now = clock.utcnow()
    repository.delete_pending_before(session, now - timedelta(minutes=PENDING_MINUTES))
    session.add(
        SsoPendingLogin(
            id=_digest(state),
            browser_hash=_digest(browser_secret),
            nonce=nonce,
            code_verifier=code_verifier,
            next_path=next_path,
            created_at=now,
        )
    )
    session.flush()
    return StartedSignIn(
        provider.authorization_url(state=state, nonce=nonce, code_verifier=code_verifier), browser_secret
    )


@dataclass(frozen=True)
class SsoSignIn:
    step: SignInStep
    next_path: str


def role_for(groups: list[str], mapping: dict[str, str]) -> str | None:
    roles = {mapping[group] for group in groups if group in mapping}
    return next((role for role in ROLE_PRECEDENCE if role in roles), None)


def mfa_asserted(claims: dict[str, Any], settings: Settings) -> bool:
    wanted_amr = {value.strip() for value in settings.oidc_mfa_amr.split(",") if value.strip()}
    wanted_acr = {value.strip() for value in settings.oidc_mfa_acr.split(",") if value.strip()}
    amr = claims.get("amr")
    amr_values = set(amr) if isinstance(amr, list) else set()
    return bool(amr_values & wanted_amr) or (claims.get("acr") in wanted_acr)


def _groups(claims: dict[str, Any], settings: Settings) -> list[str]:
    value = claims.get(settings.oidc_groups_claim, [])
    if isinstance(value, str):
        value = [value]
    return [str(group) for group in value] if isinstance(value, list) else []


def _refuse(
    session: Session,
    actor: Actor,
    name: str,
    reason: str,
    message: str,
    status: int,
    values: dict[str, object] | None = None,
) -> SignInRefused:
    """The sign-in refused, recorded with ``reason`` (English, for the log); ``message`` is the
    catalogue message the person reads, ``values`` fill its placeholders."""
    record_event(
        session,
        actor=actor,
        actor_name=name[:100],
        action="auth.login",
        object_type="user",
        object_id=name[:100],
        outcome="refused",
        detail={"method": "sso", "reason": reason},
    )
    return SignInRefused(message, status=status, values=values)


def complete(
    session: Session,
    settings: Settings,
    provider: OpenIdProvider,
    *,
    state: str,
    code: str,
    error: str,
    browser_secret: str | None,
    actor: Actor,
) -> SsoSignIn:
    """The provider's answer: check it belongs to a sign-in this browser started, exchange the
    code, validate the id token, then find or create the account and start a session."""
    pending = repository.take_pending(session, _digest(state)) if state else None
    if (
        pending is None
        or clock.utcnow() - clock.as_utc(pending.created_at) > timedelta(minutes=PENDING_MINUTES)
        or not browser_secret
        or not secrets.compare_digest(pending.browser_hash, _digest(browser_secret))
    ):
        # The route renders the refusal and its unit of work commits: the row stays deleted.
        raise _refuse(session, actor, "sso", "unknown, used or expired state", STALE_SIGN_IN, 400)
    if error or not code:
        raise _refuse(
            session,
            actor,
            "sso",
            f"provider error: {error or 'no code'}"[:200],
            N_("The identity provider did not sign you in (%(error)s)."),
            400,
            values={"error": error or "no code"},
        )
    try:
        tokens = provider.exchange_code(code=code, code_verifier=pending.code_verifier)
        claims = provider.validate_id_token(tokens["id_token"], nonce=pending.nonce)
        if settings.oidc_groups_claim not in claims or settings.oidc_username_claim not in claims:
            extra = provider.userinfo(str(tokens.get("access_token", "")))
            if extra and extra.get("sub") != claims["sub"]:
                raise ProviderError("the userinfo answer is about another subject")
            claims = {**extra, **claims}
    except ProviderError as failure:
        raise _refuse(
            session,
            actor,
            "sso",
            str(failure)[:300],
            N_("Single sign-on failed: the identity provider's answer was not acceptable."),
            400,
        ) from None

    issuer, subject = provider.metadata().issuer, str(claims["sub"])
    groups = _groups(claims, settings)
    role = role_for(groups, settings.oidc_role_mapping) or NO_ROLE
    user = _account(session, settings, actor, issuer=issuer, subject=subject, claims=claims, role=role, groups=groups)
    if user.role == NO_ROLE:
        raise _refuse(session, actor, user.username, "no mapped group", NO_MAPPED_GROUP, 403)
    problem = access_problem(user)
    if problem is None and user.role == Role.auditor and user.valid_until is None:
        problem = "auditor without access window"
    if problem:
        raise _refuse(session, actor, user.username, problem, NO_ACCESS, 403)

    mfa = mfa_asserted(claims, settings)
    needs_totp = not mfa and (user.totp_enabled_at is not None or second_factor_required(session, user))
    if needs_totp and user.totp_enabled_at is None and not user.totp_secret:
        user.totp_secret = second_factor.new_secret()  # enrolment happens in the 2FA step
    stage = sessions.STAGE_SECOND_FACTOR if needs_totp else sessions.STAGE_SIGNED_IN
    started = sessions.start(session, user=user, stage=stage, address=actor.address or "unknown")
    remember_id_token(session, started.web_session.id, str(tokens["id_token"]))
    if not needs_totp:
        record_event(
            session,
            actor=actor,
            actor_name=user.username,
            action="auth.login",
            object_type="user",
            object_id=user.username,
            detail={"method": "sso", "provider_mfa": mfa},
        )
    return SsoSignIn(SignInStep(started, user), pending.next_path)


def _account(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    issuer: str,
    subject: str,
    claims: dict[str, Any],
    role: str,
    groups: list[str],
) -> UserAccount:
    now = clock.utcnow()
    link = repository.identity(session, issuer, subject)
    if link is None:
        username = normalise_username(str(claims.get(settings.oidc_username_claim) or claims.get("email") or ""))
        if not USERNAME_PATTERN.match(username):
            raise _refuse(
                session,
                actor,
                subject,
                "unusable user name",
                N_("Your identity provider sent no usable user name. Ask an administrator."),
                403,
            )
        if accounts.user_by_username(session, username) is not None:
            # Never take over a local account because the provider uses the same name.
            raise _refuse(
                session,
                actor,
                username,
                "user name taken by another account",
                N_(
                    "An account named '%(username)s' exists already and is not linked to your "
                    "single sign-on identity. Ask an administrator."
                ),
                409,
                values={"username": username},
            )
        user = UserAccount(
            username=username, role=role, password_hash=UNUSABLE_PASSWORD, password_changed_at=now, created_at=now
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        session.add(
            SsoIdentity(
                issuer=issuer, subject=subject, user_id=user.id, groups=groups, created_at=now, last_login_at=now
            )
        )
        record_event(
            session,
            actor=actor,
            actor_name=username,
            action="user.create",
            object_type="user",
            object_id=username,
            detail={"role": role, "source": "sso"},
        )
        session.flush()
        return user
    linked = accounts.user_by_id(session, link.user_id)
    assert linked is not None
    user = linked
    link.groups = groups
    link.last_login_at = now
    if user.role != role:
        previous = user.role
        user.role = role
        # A session carries the rights of the role it was opened with.
        assert user.id is not None
        sessions.end_all_of(session, user.id)
        record_event(
            session,
            actor=actor,
            actor_name=user.username,
            action="user.update",
            object_type="user",
            object_id=user.username,
            detail={"role": f"{previous} -> {role}", "source": "sso groups"},
        )
    session.flush()
    return user


def remember_id_token(session: Session, web_session_id: str, id_token: str | None) -> None:
    if id_token:
        session.add(SsoSession(web_session_id=web_session_id, id_token=id_token))
        session.flush()


def id_token_of(session: Session, web_session_id: str | None) -> str | None:
    return repository.id_token_of(session, web_session_id) if web_session_id else None


def logout_url(provider: OpenIdProvider | None, id_token: str | None, settings: Settings) -> str | None:
    """Where to send the browser after the portal session ended: the provider's end-session
    endpoint (RP-initiated logout), which returns to the sign-in page."""
    if provider is None or not id_token:
        return None
    return provider.logout_url(id_token=id_token, post_logout_redirect_uri=settings.base_url.rstrip("/") + "/login")
