"""/admin/users and /admin/tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from audit_portal import clock
from audit_portal.auth import passwords, tokens
from audit_portal.auth import service as auth_service
from audit_portal.authz import Authorize, Principal, Role
from audit_portal.db import SessionDep
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.forms import EVERY_REFUSAL, submit_form
from audit_portal.i18n import N_, Wording
from audit_portal.portal import service as portal_settings
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter(prefix="/admin", tags=["admin"])
UserAdmin = Annotated[Principal, Authorize("users:manage")]
TokenAdmin = Annotated[Principal, Authorize("tokens:manage")]
FormText = Annotated[str, Form()]


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


def parse_date(value: str, field: str, *, end_of_day: bool = False) -> datetime | None:
    """A date from an <input type="date">, as UTC; 'valid until' covers the whole day."""
    value = value.strip()
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("%(field)s: use a date like 2026-12-31."), values={"field": field}) from None
    moment = clock.as_utc(day)
    if end_of_day and len(value) == 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment


def _window(valid_from: str, valid_until: str) -> auth_service.AccessWindow:
    return auth_service.AccessWindow(
        valid_from=parse_date(valid_from, "Valid from"),
        valid_until=parse_date(valid_until, "Valid until", end_of_day=True),
    )


# --- users ---------------------------------------------------------------------------------


def _users_page(request: Request, session: SessionDep, **extra: object) -> Response:
    context = {
        "users": auth_service.list_users(session),
        "roles": [role.value for role in Role],
        "require_all": portal_settings.get_flag(session, auth_service.REQUIRE_2FA_FOR_ALL),
        "now": clock.utcnow(),
        "access_problem": auth_service.access_problem,
        **extra,
    }
    return render(request, "pages/admin/users.html", context)


@router.get("/users")
def users(request: Request, session: SessionDep, principal: UserAdmin) -> Response:
    return _users_page(request, session)


@router.post("/users")
def create_user(
    request: Request,
    session: SessionDep,
    principal: UserAdmin,
    username: FormText = "",
    role: FormText = "",
    valid_from: FormText = "",
    valid_until: FormText = "",
) -> Response:
    password = passwords.generate_password()

    def change() -> Response:
        user = auth_service.create_user(
            session,
            username=username,
            role=role,
            password=password,
            window=_window(valid_from, valid_until),
            actor=actor_of(request, principal),
            must_change_password=True,
        )
        return _users_page(request, session, created={"username": user.username, "password": password})

    form = {"username": username, "role": role, "valid_from": valid_from, "valid_until": valid_until}
    return submit_form(
        request,
        change,
        lambda refusal: _users_page(request, session, error=refusal.message, form=form),
        refusals=EVERY_REFUSAL,
    )


@router.post("/settings/2fa")
def require_second_factor(
    request: Request, session: SessionDep, principal: UserAdmin, require_all: FormText = ""
) -> Response:
    auth_service.set_second_factor_for_all(session, require_all == "on", actor=actor_of(request, principal))
    return _redirect("/admin/users")


def _edit_page(request: Request, session: SessionDep, user_id: int, **extra: object) -> Response:
    user = auth_service.get_user(session, user_id)
    context = {
        "account": user,
        "roles": [role.value for role in Role],
        "problem": auth_service.access_problem(user),
        **extra,
    }
    return render(request, "pages/admin/user_edit.html", context)


@router.get("/users/{user_id}")
def edit_user(request: Request, session: SessionDep, principal: UserAdmin, user_id: int) -> Response:
    return _edit_page(request, session, user_id)


@router.post("/users/{user_id}")
def update_user(
    request: Request,
    session: SessionDep,
    principal: UserAdmin,
    user_id: int,
    role: FormText = "",
    valid_from: FormText = "",
    valid_until: FormText = "",
) -> Response:
    user = auth_service.get_user(session, user_id)

    def change() -> Response:
        auth_service.update_user(
            session, user, role=role, window=_window(valid_from, valid_until), actor=actor_of(request, principal)
        )
        return _edit_page(request, session, user_id, message=N_("Saved."))

    return _on_edit_page(request, session, user_id, change)


def _on_edit_page(request: Request, session: SessionDep, user_id: int, change: Callable[[], Response]) -> Response:
    """A change to one account, refused on that account's page."""
    return submit_form(
        request,
        change,
        lambda refusal: _edit_page(request, session, user_id, error=refusal.message),
        refusals=EVERY_REFUSAL,
    )


@router.post("/users/{user_id}/revoke")
def revoke_user(request: Request, session: SessionDep, principal: UserAdmin, user_id: int) -> Response:
    user = auth_service.get_user(session, user_id)

    def change() -> Response:
        if user.id == principal.user_id:
            raise Conflict(N_("You cannot revoke your own account."))
        auth_service.revoke_user(session, user, actor=actor_of(request, principal))
        return _edit_page(request, session, user_id, message=N_("Access revoked; the account's sessions have ended."))

    return _on_edit_page(request, session, user_id, change)


@router.post("/users/{user_id}/restore")
def restore_user(request: Request, session: SessionDep, principal: UserAdmin, user_id: int) -> Response:
    auth_service.restore_user(session, auth_service.get_user(session, user_id), actor=actor_of(request, principal))
    return _edit_page(request, session, user_id, message=N_("Access restored."))


@router.post("/users/{user_id}/reset-2fa")
def reset_second_factor(request: Request, session: SessionDep, principal: UserAdmin, user_id: int) -> Response:
    user = auth_service.get_user(session, user_id)
    auth_service.reset_second_factor(session, user, actor=actor_of(request, principal))
    return _edit_page(request, session, user_id, message=N_("Two-factor sign-in reset; the next sign-in enrols again."))


@router.post("/users/{user_id}/reset-password")
def reset_password(request: Request, session: SessionDep, principal: UserAdmin, user_id: int) -> Response:
    user = auth_service.get_user(session, user_id)
    password = auth_service.reset_password(session, user, actor=actor_of(request, principal))
    return _edit_page(request, session, user_id, new_password=password)


# --- service tokens ------------------------------------------------------------------------


def _tokens_page(request: Request, session: SessionDep, **extra: object) -> Response:
    context = {
        "tokens": tokens.list_tokens(session),
        "now": clock.utcnow(),
        "as_utc": clock.as_utc,
        "max_days": tokens.MAX_DAYS,
        **extra,
    }
    return render(request, "pages/admin/tokens.html", context)


@router.get("/tokens")
def token_list(request: Request, session: SessionDep, principal: TokenAdmin) -> Response:
    return _tokens_page(request, session)


@router.post("/tokens")
def create_token(
    request: Request,
    session: SessionDep,
    principal: TokenAdmin,
    name: FormText = "",
    scopes: FormText = "",
    days: FormText = "90",
) -> Response:
    try:
        lifetime = int(days)
    except ValueError:
        lifetime = 0

    def change() -> Response:
        issued = tokens.create(
            session,
            name=name,
            scopes=tokens.parse_scopes(scopes),
            days=lifetime,
            actor=actor_of(request, principal),
        )
        return _tokens_page(request, session, issued=issued)

    form = {"name": name, "scopes": scopes, "days": days}
    return submit_form(
        request,
        change,
        lambda refusal: _tokens_page(request, session, error=refusal.message, form=form),
        refusals=EVERY_REFUSAL,
    )


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, session: SessionDep, principal: TokenAdmin, token_id: int) -> Response:
    token = tokens.revoke(session, token_id, actor=actor_of(request, principal))
    return _tokens_page(
        request,
        session,
        message=Wording(request_language(request)).gettext("Token '%(name)s' revoked.", name=token.name),
    )
