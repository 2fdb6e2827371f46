"""Sign-in (password, then the second factor), sign-out, and the user's own profile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from audit_portal import i18n
from audit_portal.auth import devices, second_factor, sessions
from audit_portal.auth import service as auth_service
from audit_portal.auth.identify import Identity
from audit_portal.auth.models import UserAccount
from audit_portal.authz import Authorize, Principal, SignedIn
from audit_portal.db import SessionDep
from audit_portal.errors import InvalidInput
from audit_portal.forms import EVERY_REFUSAL, Refusal, submit_form
from audit_portal.i18n import N_
from audit_portal.notifications import service as digest_settings
from audit_portal.portal import service as portal_settings
from audit_portal.principals import ANONYMOUS_PRINCIPAL
from audit_portal.request_actor import actor_of, route_of
from audit_portal.security import clear_session_cookie, set_session_cookie
from audit_portal.sso import service as sso_service
from audit_portal.sso.provider import provider_of
from audit_portal.templating import render, request_language

router = APIRouter(tags=["auth"])
Public = Annotated[Principal, Authorize("public")]
FormText = Annotated[str, Form()]


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


def _identity(request: Request) -> Identity:
    identity = request.state.identity
    assert isinstance(identity, Identity)
    return identity


# --- sign-in -------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, principal: Public, next: str = "/") -> Response:
    if not principal.is_anonymous and not principal.is_token:
        return _redirect(safe_next(next))
    return render(request, "pages/auth/login.html", {"next": safe_next(next), "username": ""})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    principal: Public,
    username: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    try:
        settings = request.app.state.settings
        step = auth_service.check_password(
            session,
            username=username,
            password=password,
            actor=actor_of(request, ANONYMOUS_PRINCIPAL),
            device=devices.device_of(request),
            route=route_of(request),
            password_users=None if settings.password_login_enabled else settings.break_glass_usernames,
        )
    except auth_service.SignInRefused as refused:
        context = {
            "next": safe_next(next),
            "username": username,
            "error": refused.in_language(request_language(request)),
        }
        return render(request, "pages/auth/login.html", context, status_code=refused.status)
    if step.needs_second_factor:
        response = _redirect("/login/2fa?next=" + quote(safe_next(next), safe="/"))
    else:
        response = _redirect(safe_next(next))
        devices.remember(response, request, step.user.username)
    set_session_cookie(response, request, step.started.cookie_value)
    return response


def _pending_user(request: Request) -> UserAccount | None:
    identity = _identity(request)
    if identity.web_session is None or identity.web_session.stage != sessions.STAGE_SECOND_FACTOR:
        return None
    return identity.user


def _second_factor_context(request: Request, session: SessionDep, user: UserAccount, next: str) -> dict:
    enrolling = user.totp_enabled_at is None
    context: dict = {
        "next": safe_next(next),
        "enrolling": enrolling,
        "username": user.username,
        "demo": portal_settings.is_demo(session),
    }
    if enrolling and user.totp_secret:
        context["qr_svg"] = second_factor.qr_svg(second_factor.provisioning_uri(user))
        context["secret"] = user.totp_secret
    return context


@router.get("/login/2fa")
def second_factor_page(request: Request, session: SessionDep, principal: Public, next: str = "/") -> Response:
    user = _pending_user(request)
    if user is None:
        return _redirect("/login")
    return render(request, "pages/auth/second_factor.html", _second_factor_context(request, session, user, next))


@router.post("/login/2fa")
def second_factor_submit(
    request: Request, session: SessionDep, principal: Public, code: FormText = "", next: FormText = "/"
) -> Response:
    user = _pending_user(request)
    web_session = _identity(request).web_session
    if user is None or web_session is None:
        return _redirect("/login")
    # An SSO sign-in's id token moves to the session that replaces this one (for sign-out).
    id_token = sso_service.id_token_of(session, web_session.id)
    try:
        result = auth_service.check_second_factor(
            session,
            web_session=web_session,
            user=user,
            code=code,
            actor=actor_of(request, ANONYMOUS_PRINCIPAL),
            device=devices.device_of(request),
            route=route_of(request),
        )
    except auth_service.SignInRefused as refused:
        context = {
            **_second_factor_context(request, session, user, next),
            "error": refused.in_language(request_language(request)),
        }
        return render(request, "pages/auth/second_factor.html", context, status_code=refused.status)
    sso_service.remember_id_token(session, result.started.web_session.id, id_token)
    if result.new_recovery_codes:
        request.state.csrf_token = result.started.web_session.csrf_token
        response: Response = render(
            request,
            "pages/auth/recovery_codes.html",
            {"codes": result.new_recovery_codes, "continue_to": safe_next(next)},
        )
    else:
        response = _redirect(safe_next(next))
    devices.remember(response, request, user.username)
    set_session_cookie(response, request, result.started.cookie_value)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, principal: Public) -> Response:
    web_session = _identity(request).web_session
    id_token = sso_service.id_token_of(session, web_session.id if web_session else None)
    auth_service.sign_out(session, web_session=web_session, actor=actor_of(request, principal))
    # After single sign-on, the provider's session ends too (RP-initiated logout) where it can.
    target = sso_service.logout_url(provider_of(request), id_token, request.app.state.settings)
    response = _redirect(target or "/login")
    clear_session_cookie(response, request)
    return response


# --- profile -------------------------------------------------------------------------------


def _profile(request: Request, session: SessionDep, user: UserAccount, **extra: object) -> Response:
    assert user.id is not None
    preference = digest_settings.preference_of(session, user.id)
    context = {
        "account": user,
        "second_factor_required": auth_service.second_factor_required(session, user),
        "recovery_codes_left": second_factor.remaining_recovery_codes(session, user) if user.totp_enabled_at else 0,
        "settings_form": {
            "email": preference.email or "",
            "digest": not preference.opted_out,
            "language": user.language or "",
            "time_zone": user.time_zone or "",
        },
        "settings_errors": {},
        "settings_saved": request.query_params.get("saved") == "1",
        "language_choices": i18n.language_choices(),
        "time_zones": i18n.common_time_zones(),
        **extra,
    }
    return render(request, "pages/auth/profile.html", context)


@router.get("/profile")
def profile(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    return _profile(request, session, auth_service.get_user(session, principal.account_id))


@router.post("/profile/settings")
def save_personal_settings(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    email: FormText = "",
    language: FormText = "",
    time_zone: FormText = "",
    digest: Annotated[str | None, Form()] = None,
) -> Response:
    """E-mail address and digest (the notifications domain keeps them), language and time zone
    (the account's own): all checked before anything is kept, so a refusal changes nothing."""
    user = auth_service.get_user(session, principal.account_id)
    email, language, time_zone = email.strip(), language.strip(), time_zone.strip()

    def change() -> Response:
        errors = auth_service.personal_settings_errors(language=language, time_zone=time_zone)
        email_problem = digest_settings.email_error(email)
        if email_problem:
            errors["email"] = email_problem
        if errors:
            raise InvalidInput(
                N_("Nothing was saved: correct the fields marked below."),
                errors=[{"location": field, "message": message} for field, message in errors.items()],
            )
        auth_service.update_personal_settings(
            session, user, language=language, time_zone=time_zone, actor=actor_of(request, principal)
        )
        digest_settings.save_preference(
            session, actor=actor_of(request, principal), email=email, wants_digest=digest == "on"
        )
        return _redirect("/profile?saved=1#settings")

    submitted = {"email": email, "digest": digest == "on", "language": language, "time_zone": time_zone}
    return submit_form(
        request,
        change,
        lambda refusal: _profile(request, session, user, settings_form=submitted, settings_errors=refusal.fields),
    )


@router.post("/profile/password")
def change_password(
    request: Request,
    session: SessionDep,
    principal: SignedIn,
    current_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    user = auth_service.get_user(session, principal.account_id)

    def change() -> Response:
        auth_service.change_password(
            session,
            user,
            current=current_password,
            new=new_password,
            confirmation=confirm_password,
            keep_session_id=principal.session_id,
            actor=actor_of(request, principal),
        )
        return _profile(
            request, session, user, password_message=N_("Password changed. Your other sessions have ended.")
        )

    return submit_form(
        request,
        change,
        lambda refusal: _profile(request, session, user, password_error=refusal.message),
        refusals=EVERY_REFUSAL,
    )


@router.get("/profile/2fa")
def enrolment_page(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    user = auth_service.get_user(session, principal.account_id)
    if user.totp_enabled_at is not None or not user.totp_secret:
        return _redirect("/profile")
    context = {"qr_svg": second_factor.qr_svg(second_factor.provisioning_uri(user)), "secret": user.totp_secret}
    return render(request, "pages/auth/enrol.html", context)


@router.post("/profile/2fa")
def start_enrolment(request: Request, session: SessionDep, principal: SignedIn) -> Response:
    user = auth_service.get_user(session, principal.account_id)

    def change() -> Response:
        auth_service.start_enrolment(session, user)
        return _redirect("/profile/2fa")

    return submit_form(request, change, _second_factor_refused(request, session, user), refusals=EVERY_REFUSAL)


@router.post("/profile/2fa/confirm")
def confirm_enrolment(request: Request, session: SessionDep, principal: SignedIn, code: FormText = "") -> Response:
    user = auth_service.get_user(session, principal.account_id)

    def change() -> Response:
        codes = auth_service.confirm_enrolment(session, user, code=code, actor=actor_of(request, principal))
        return render(request, "pages/auth/recovery_codes.html", {"codes": codes, "continue_to": "/profile"})

    def refused(refusal: Refusal) -> Response:
        if not user.totp_secret:
            return _redirect("/profile")
        context = {
            "qr_svg": second_factor.qr_svg(second_factor.provisioning_uri(user)),
            "secret": user.totp_secret,
            "error": refusal.message,
        }
        return render(request, "pages/auth/enrol.html", context)

    return submit_form(request, change, refused, refusals=EVERY_REFUSAL)


@router.post("/profile/2fa/recovery-codes")
def replace_recovery_codes(
    request: Request, session: SessionDep, principal: SignedIn, password: FormText = ""
) -> Response:
    user = auth_service.get_user(session, principal.account_id)

    def change() -> Response:
        codes = auth_service.new_recovery_codes(session, user, password=password, actor=actor_of(request, principal))
        return render(request, "pages/auth/recovery_codes.html", {"codes": codes, "continue_to": "/profile"})

    return submit_form(request, change, _second_factor_refused(request, session, user), refusals=EVERY_REFUSAL)


@router.post("/profile/2fa/disable")
def disable_second_factor(
    request: Request, session: SessionDep, principal: SignedIn, password: FormText = ""
) -> Response:
    user = auth_service.get_user(session, principal.account_id)

    def change() -> Response:
        auth_service.turn_off_second_factor(session, user, password=password, actor=actor_of(request, principal))
        return _profile(request, session, user, second_factor_message=N_("Two-factor sign-in is off."))

    return submit_form(request, change, _second_factor_refused(request, session, user), refusals=EVERY_REFUSAL)


def _second_factor_refused(request: Request, session: SessionDep, user: UserAccount) -> Callable[[Refusal], Response]:
    return lambda refusal: _profile(request, session, user, second_factor_error=refusal.message)
