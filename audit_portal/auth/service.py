"""The rules of accounts: creating and changing users, signing in (password, then the second
factor), changing passwords, revoking access and resetting a second factor.

Every sign-in failure and every change to an account is an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit.refusals import record_refusal
from audit_portal.audit.service import record_event
from audit_portal.auth import devices, passwords, repository, second_factor, sessions, throttle
from audit_portal.auth.models import UserAccount, WebSession
from audit_portal.engagements import scope
from audit_portal.errors import Conflict, InvalidInput, NotFound
from audit_portal.i18n import LANGUAGES, N_, Wording, valid_time_zone
from audit_portal.portal import service as portal_settings
from audit_portal.principals import Actor, Role

REQUIRE_2FA_FOR_ALL = "auth.require_2fa_for_all"
ROLES_WITH_MANDATORY_2FA = frozenset({Role.admin.value, Role.auditor.value})
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
WRONG_CREDENTIALS = N_("Wrong user name or password.")
NO_ACCESS = N_("This account has no access at this time. Ask an administrator.")
WRONG_CODE = N_(
    "That code is not valid, or it was already used (each code works once). "
    "Wait for the next code from your app and enter that one, or use a recovery code."
)
UNKNOWN_LANGUAGE = N_("Choose one of the languages offered, or the browser's language.")
UNKNOWN_TIME_ZONE = N_("Choose a time zone from the list, e.g. Europe/Amsterdam, or the organisation's.")


def normalise_username(username: str) -> str:
    return username.strip().lower()


LOCKED = N_("Too many failed sign-in attempts. Sign-in is blocked for 15 minutes, until %(until)s UTC.")


def locked_refusal(until: datetime) -> SignInRefused:
    return SignInRefused(LOCKED, status=429, values={"until": f"{clock.as_utc(until):%H:%M}"})


class PasswordRefused(InvalidInput):
    """A new password the rules refuse: each reason a catalogue message, in the reader's language
    on a page, in English for the API and the CLI."""

    def __init__(self, refusals: list[tuple[str, dict[str, object]]]) -> None:
        super().__init__(" ".join(message % values for message, values in refusals))
        self.refusals = refusals

    def in_language(self, language: str) -> str:
        say = Wording(language)
        return " ".join(say.gettext(message, **values) for message, values in self.refusals)


class SignInRefused(Exception):
    """A sign-in step failed; ``message`` is a catalogue message safe to show, ``values`` fill its
    ``%(name)s`` placeholders after translation (:meth:`in_language`), ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, values: Mapping[str, object] | None = None) -> None:
        self.message = message
        self.values = dict(values or {})
        super().__init__(message % self.values if self.values else message)
        self.status = status

    def in_language(self, language: str) -> str:
        return Wording(language).gettext(self.message, **self.values)


# --- users ---------------------------------------------------------------------------------


def second_factor_required(session: Session, user: UserAccount) -> bool:
    return user.role in ROLES_WITH_MANDATORY_2FA or portal_settings.get_flag(session, REQUIRE_2FA_FOR_ALL)


# Sign-in and every scoped view ask the same question (engagements/scope.py).
access_problem = scope.access_problem


@dataclass(frozen=True)
class AccessWindow:
    valid_from: datetime | None = None
    valid_until: datetime | None = None


def _check_role_and_window(role: str, window: AccessWindow) -> None:
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            N_("Unknown role '%(role)s'; choose one of %(roles)s."),
            values={"role": role, "roles": ", ".join(r.value for r in Role)},
        )
    if role == Role.auditor and window.valid_until is None:
        raise InvalidInput(N_("An auditor account needs an access window: set 'valid until'."))
    if window.valid_from and window.valid_until and window.valid_from >= window.valid_until:
        raise InvalidInput(N_("'Valid from' must be before 'valid until'."))


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    password: str,
    window: AccessWindow = AccessWindow(),
    actor: Actor,
    must_change_password: bool = False,
) -> UserAccount:
    """``must_change_password``: the password was issued by an administrator, so the user
    reaches no page but the password change until they choose their own."""
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(N_("A user name has 2 to 100 characters: lower-case letters, digits, '.', '_', '-', '@'."))
    _check_role_and_window(role, window)
    if repository.user_by_username(session, username) is not None:
        raise Conflict(N_("The user name '%(username)s' is taken."), values={"username": username})
    problems = passwords.password_refusals(password, username)
    if problems:
        raise PasswordRefused(problems)
    now = clock.utcnow()
    user = UserAccount(
        username=username,
        role=role,
        password_hash=passwords.hash_password(password),
        password_changed_at=now,
        password_must_change=must_change_password,
        valid_from=window.valid_from,
        valid_until=window.valid_until,
        created_at=now,
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=username,
        detail={"role": role},
    )
    return user


def get_user(session: Session, user_id: int) -> UserAccount:
    user = repository.user_by_id(session, user_id)
    if user is None:
        raise NotFound(N_("No user %(id)s."), values={"id": user_id})
    return user


def user_named(session: Session, username: str) -> UserAccount:
    user = repository.user_by_username(session, normalise_username(username))
    if user is None:
        raise NotFound(N_("No user named '%(username)s'."), values={"username": username})
    return user


def list_users(session: Session) -> list[UserAccount]:
    return repository.all_users(session)


def update_user(
    session: Session,
    user: UserAccount,
    *,
    role: str,
    window: AccessWindow,
    actor: Actor,
) -> UserAccount:
    _check_role_and_window(role, window)
    changes = {
        name: str(value)
        for name, value in (("role", role), ("valid_from", window.valid_from), ("valid_until", window.valid_until))
        if getattr(user, name) != value
    }
    user.role = role
    user.valid_from = window.valid_from
    user.valid_until = window.valid_until
    session.flush()
    if "role" in changes:
        # A session carries the rights of the role it was opened with: end it on a role change.
        assert user.id is not None
        sessions.end_all_of(session, user.id)
    record_event(
        session,
        actor=actor,
        action="user.update",
        object_type="user",
        object_id=user.username,
        detail=changes,
    )
    return user


# --- personal settings ---------------------------------------------------------------------


def personal_settings_errors(*, language: str, time_zone: str) -> dict[str, str]:
    """Field name to message for each choice that cannot be kept; empty means both are fine.
    An empty value is valid: the browser's language, the organisation's time zone."""
    errors: dict[str, str] = {}
    if language and language not in LANGUAGES:
        errors["language"] = UNKNOWN_LANGUAGE
    if time_zone and not valid_time_zone(time_zone):
        errors["time_zone"] = UNKNOWN_TIME_ZONE
    return errors


def update_personal_settings(
    session: Session,
    user: UserAccount,
    *,
    language: str,
    time_zone: str,
    actor: Actor,
) -> UserAccount:
    errors = personal_settings_errors(language=language, time_zone=time_zone)
    if errors:
        raise InvalidInput(
            " ".join(errors.values()),
            errors=[{"location": field, "message": message} for field, message in errors.items()],
        )
    changes = {
        name: value or None
        for name, value in (("language", language), ("time_zone", time_zone))
        if getattr(user, name) != (value or None)
    }
    user.language = language or None
    user.time_zone = time_zone or None
    session.flush()
    if changes:
        record_event(
            session,
            actor=actor,
            action="user.settings",
            object_type="user",
            object_id=user.username,
            detail=changes,
        )
    return user


def revoke_user(session: Session, user: UserAccount, *, actor: Actor) -> None:
    """Revoke at once: the account cannot sign in and its open sessions end now."""
    assert user.id is not None
    user.revoked_at = clock.utcnow()
    sessions.end_all_of(session, user.id)
    record_event(session, actor=actor, action="user.revoke", object_type="user", object_id=user.username)


def restore_user(session: Session, user: UserAccount, *, actor: Actor) -> None:
    user.revoked_at = None
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.restore",
        object_type="user",
        object_id=user.username,
    )


def reset_second_factor(
    session: Session,
    user: UserAccount,
    *,
    actor: Actor,
) -> None:
    """Forget the TOTP secret and recovery codes; the next sign-in enrols again when required."""
    assert user.id is not None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    repository.delete_recovery_codes(session, user.id)
    sessions.end_all_of(session, user.id)
    record_event(
        session,
        actor=actor,
        action="user.reset_2fa",
        object_type="user",
        object_id=user.username,
    )


def reset_password(session: Session, user: UserAccount, *, actor: Actor) -> str:
    """A new random password (shown once to the administrator); all sessions end."""
    assert user.id is not None
    password = passwords.generate_password()
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = clock.utcnow()
    user.password_must_change = True  # the administrator knows it: the user picks their own
    sessions.end_all_of(session, user.id)
    record_event(
        session,
        actor=actor,
        action="user.reset_password",
        object_type="user",
        object_id=user.username,
    )
    return password


def change_password(
    session: Session,
    user: UserAccount,
    *,
    current: str,
    new: str,
    confirmation: str,
    keep_session_id: str | None,
    actor: Actor,
) -> None:
    """Change one's own password; every other session of the user ends."""
    if not passwords.verify_password(user.password_hash, current):
        record_event(
            session,
            actor=actor,
            action="user.change_password",
            object_type="user",
            object_id=user.username,
            outcome="failure",
            detail={"reason": "wrong current password"},
        )
        raise InvalidInput(N_("The current password is wrong."))
    if new != confirmation:
        raise InvalidInput(N_("The new password and its confirmation differ."))
    problems = passwords.password_refusals(new, user.username)
    if problems:
        raise PasswordRefused(problems)
    assert user.id is not None
    if passwords.verify_password(user.password_hash, new):
        raise InvalidInput(N_("Choose a new password, not the one you have now."))
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = clock.utcnow()
    user.password_must_change = False
    sessions.end_all_of(session, user.id, keep=keep_session_id)
    record_event(
        session,
        actor=actor,
        action="user.change_password",
        object_type="user",
        object_id=user.username,
    )


# --- signing in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInStep:
    """The result of a correct password: a new session, fully signed in or awaiting 2FA."""

    started: sessions.StartedSession
    user: UserAccount

    @property
    def needs_second_factor(self) -> bool:
        return self.started.web_session.stage == sessions.STAGE_SECOND_FACTOR


PASSWORD_LOGIN_OFF = N_("Sign in with single sign-on: password sign-in is off for this portal.")


def check_password(
    session: Session,
    *,
    username: str,
    password: str,
    actor: Actor,
    device: devices.KnownDevice | None,
    route: str = "",
    password_users: frozenset[str] | None = None,
) -> SignInStep:
    """The first sign-in step. Unknown user and wrong password give the same answer after the
    same work (an argon2 verification each); both count towards the lockout. With
    ``password_users`` (password sign-in off), only those admin accounts (break-glass) pass.
    ``actor`` is the anonymous caller and its address; ``device`` the known-device cookie it sent; ``route`` the route it
    came in on, for the refusal log."""
    username = normalise_username(username)[:100]
    address = actor.address or "unknown"
    device = devices.for_user(device, username)
    until = throttle.locked_until(session, username=username, address=address, device=device)
    if until is not None:
        record_refusal(
            session,
            actor=actor,
            route=route,
            actor_name=username,
            action="auth.login",
            object_type="user",
            object_id=username,
            outcome="refused",
            reason="throttled",
        )
        raise locked_refusal(until)
    user = repository.user_by_username(session, username)
    if user is None:
        passwords.spend_verification_time(password)
    if user is None or not passwords.verify_password(user.password_hash, password):
        _fail(
            session,
            username=username,
            address=address,
            device=device,
            actor=actor,
            route=route,
            reason="wrong credentials",
        )
    problem = access_problem(user)
    if problem:
        record_refusal(
            session,
            actor=actor,
            route=route,
            actor_name=username,
            action="auth.login",
            object_type="user",
            object_id=username,
            outcome="refused",
            reason=problem,
        )
        raise SignInRefused(NO_ACCESS, status=403)
    if password_users is not None and (username not in password_users or user.role != Role.admin):
        record_event(
            session,
            actor=actor,
            actor_name=username,
            action="auth.login",
            object_type="user",
            object_id=username,
            outcome="refused",
            detail={"reason": "password sign-in is off"},
        )
        raise SignInRefused(PASSWORD_LOGIN_OFF, status=403)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if second_factor_required(session, user) and user.totp_enabled_at is None and not user.totp_secret:
        user.totp_secret = second_factor.new_secret()  # enrolment happens in the 2FA step
    needs_totp = user.totp_enabled_at is not None or second_factor_required(session, user)
    stage = sessions.STAGE_SECOND_FACTOR if needs_totp else sessions.STAGE_SIGNED_IN
    started = sessions.start(session, user=user, stage=stage, address=address)
    if not needs_totp:
        _signed_in(session, user=user, actor=actor, method="password", device=device)
    return SignInStep(started, user)


def _fail(
    session: Session,
    *,
    username: str,
    address: str,
    device: devices.KnownDevice | None,
    actor: Actor,
    route: str,
    reason: str,
) -> NoReturn:
    throttle.register_failure(session, username=username, address=address, device=device)
    record_refusal(
        session,
        actor=actor,
        route=route,
        actor_name=username,
        action="auth.login",
        object_type="user",
        object_id=username,
        outcome="failure",
        reason=reason,
    )
    until = throttle.locked_until(session, username=username, address=address, device=device)
    if until is not None:
        raise locked_refusal(until)
    raise SignInRefused(WRONG_CREDENTIALS, status=400)


def _signed_in(
    session: Session, *, user: UserAccount, actor: Actor, method: str, device: devices.KnownDevice | None
) -> None:
    throttle.register_success(session, username=user.username, device=device)
    record_event(
        session,
        actor=actor,
        actor_name=user.username,
        action="auth.login",
        object_type="user",
        object_id=user.username,
        detail={"method": method},
    )


@dataclass(frozen=True)
class SecondFactorResult:
    started: sessions.StartedSession
    new_recovery_codes: list[str]


def check_second_factor(
    session: Session,
    *,
    web_session: WebSession,
    user: UserAccount,
    code: str,
    actor: Actor,
    device: devices.KnownDevice | None,
    route: str = "",
) -> SecondFactorResult:
    """The TOTP step (or a recovery code). On success the half-signed-in session is replaced by
    a new one, so a session id seen before sign-in is worthless after it. When the user was
    enrolling, the first good code confirms the enrolment and ten recovery codes are issued."""
    address = actor.address or "unknown"
    device = devices.for_user(device, user.username)
    until = throttle.locked_until(session, username=user.username, address=address, device=device)
    if until is not None:
        raise locked_refusal(until)
    enrolling = user.totp_enabled_at is None
    method = "totp"
    accepted = second_factor.verify_totp(session, user, code)
    if not accepted and not enrolling and second_factor.use_recovery_code(session, user, code):
        accepted, method = True, "recovery code"
    if not accepted:
        throttle.register_failure(session, username=user.username, address=address, device=device)
        record_refusal(
            session,
            actor=actor,
            route=route,
            actor_name=user.username,
            action="auth.second_factor",
            object_type="user",
            object_id=user.username,
            outcome="failure",
            reason="wrong second-factor code",
        )
        raise SignInRefused(WRONG_CODE, status=400)
    codes: list[str] = []
    if enrolling:
        user.totp_enabled_at = clock.utcnow()
        codes = second_factor.replace_recovery_codes(session, user)
        record_event(
            session,
            actor=actor,
            actor_name=user.username,
            action="user.enrol_2fa",
            object_type="user",
            object_id=user.username,
        )
    sessions.end(session, web_session)
    started = sessions.start(session, user=user, stage=sessions.STAGE_SIGNED_IN, address=address)
    _signed_in(session, user=user, actor=actor, method=method, device=device)
    return SecondFactorResult(started, codes)


def sign_out(session: Session, *, web_session: WebSession | None, actor: Actor) -> None:
    principal = actor.principal
    if web_session is None:
        return
    sessions.end(session, web_session)
    record_event(
        session,
        actor=actor,
        action="auth.logout",
        object_type="user",
        object_id=principal.username,
    )


# --- second factor from the profile --------------------------------------------------------


def start_enrolment(session: Session, user: UserAccount) -> None:
    if user.totp_enabled_at is not None:
        raise Conflict(N_("Two-factor sign-in is already on; reset it first to enrol a new device."))
    user.totp_secret = second_factor.new_secret()
    session.flush()


def confirm_enrolment(session: Session, user: UserAccount, *, code: str, actor: Actor) -> list[str]:
    if user.totp_enabled_at is not None or not user.totp_secret:
        raise Conflict(N_("There is no enrolment in progress."))
    if not second_factor.verify_totp(session, user, code):
        raise InvalidInput(WRONG_CODE)
    user.totp_enabled_at = clock.utcnow()
    codes = second_factor.replace_recovery_codes(session, user)
    record_event(
        session,
        actor=actor,
        action="user.enrol_2fa",
        object_type="user",
        object_id=user.username,
    )
    return codes


def new_recovery_codes(session: Session, user: UserAccount, *, password: str, actor: Actor) -> list[str]:
    if user.totp_enabled_at is None:
        raise Conflict(N_("Turn on two-factor sign-in first."))
    if not passwords.verify_password(user.password_hash, password):
        raise InvalidInput(N_("The password is wrong."))
    codes = second_factor.replace_recovery_codes(session, user)
    record_event(
        session,
        actor=actor,
        action="user.recovery_codes",
        object_type="user",
        object_id=user.username,
    )
    return codes


def turn_off_second_factor(session: Session, user: UserAccount, *, password: str, actor: Actor) -> None:
    if second_factor_required(session, user):
        raise Conflict(N_("Two-factor sign-in is mandatory for your account."))
    if not passwords.verify_password(user.password_hash, password):
        raise InvalidInput(N_("The password is wrong."))
    assert user.id is not None
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    repository.delete_recovery_codes(session, user.id)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.disable_2fa",
        object_type="user",
        object_id=user.username,
    )


def set_second_factor_for_all(session: Session, enabled: bool, *, actor: Actor) -> None:
    portal_settings.set_flag(session, REQUIRE_2FA_FOR_ALL, enabled)
    record_event(
        session,
        actor=actor,
        action="settings.require_2fa_for_all",
        object_type="setting",
        object_id=REQUIRE_2FA_FOR_ALL,
        detail={"enabled": enabled},
    )
