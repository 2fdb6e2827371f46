"""Single sign-on routes: send the browser to the provider, take its answer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from audit_portal.auth.routes import safe_next
from audit_portal.auth.service import SignInRefused
from audit_portal.authz import Authorize, Principal
from audit_portal.db import SessionDep
from audit_portal.errors import NotFound
from audit_portal.i18n import N_, Wording
from audit_portal.principals import ANONYMOUS_PRINCIPAL
from audit_portal.request_actor import actor_of
from audit_portal.security import is_https, set_session_cookie
from audit_portal.sso import service as sso_service
from audit_portal.sso.provider import OpenIdProvider, ProviderError, provider_of
from audit_portal.templating import render, request_language

router = APIRouter(tags=["auth"])
Public = Annotated[Principal, Authorize("public")]
CALLBACK_PATH = "/login/sso/callback"


def _required_provider(request: Request) -> OpenIdProvider:
    provider = provider_of(request)
    if provider is None:
        raise NotFound(N_("Single sign-on is not configured."))
    return provider


def _login_page(request: Request, error: str, status: int, next_path: str = "/") -> Response:
    """The sign-in page with ``error``, already in the reader's language."""
    response = render(
        request, "pages/auth/login.html", {"next": next_path, "username": "", "error": error}, status_code=status
    )
    response.delete_cookie(sso_service.BROWSER_COOKIE, path=CALLBACK_PATH)
    return response


@router.get("/login/sso")
def sso_start(request: Request, session: SessionDep, principal: Public, next: str = "/") -> Response:
    provider = _required_provider(request)
    try:
        started = sso_service.begin(session, provider, next_path=safe_next(next))
    except ProviderError:
        unreachable = N_("The identity provider cannot be reached. Try again shortly.")
        return _login_page(request, Wording(request_language(request)).gettext(unreachable), 503)
    response = RedirectResponse(started.url, status_code=303)
    # Only the callback sees the cookie; Lax, because the provider's redirect is a top-level GET.
    response.set_cookie(
        sso_service.BROWSER_COOKIE,
        started.browser_secret,
        max_age=sso_service.PENDING_MINUTES * 60,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path=CALLBACK_PATH,
    )
    return response


@router.get(CALLBACK_PATH)
def sso_callback(
    request: Request,
    session: SessionDep,
    principal: Public,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    provider = _required_provider(request)
    try:
        result = sso_service.complete(
            session,
            request.app.state.settings,
            provider,
            state=state[:200],
            code=code[:2000],
            error=error[:100],
            browser_secret=request.cookies.get(sso_service.BROWSER_COOKIE),
            actor=actor_of(request, ANONYMOUS_PRINCIPAL),
        )
    except SignInRefused as refused:
        return _login_page(request, refused.in_language(request_language(request)), refused.status)
    if result.step.needs_second_factor:
        response = RedirectResponse("/login/2fa?next=" + quote(result.next_path, safe="/"), status_code=303)
    else:
        response = RedirectResponse(result.next_path, status_code=303)
    response.delete_cookie(sso_service.BROWSER_COOKIE, path=CALLBACK_PATH)
    set_session_cookie(response, request, result.step.started.cookie_value)
    return response
