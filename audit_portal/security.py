"""CSRF protection and security headers.

CSRF: every POST/PUT/PATCH/DELETE made with a cookie must carry a token, checked by the
``Authorize`` dependency before the route runs.
- Signed in (or half-way through sign-in): the synchronizer token stored with the server-side
  session.
- Anonymous (the sign-in form): a signed double-submit token; the cookie ``portal_csrf`` and the
  form field must be equal and carry a valid HMAC under the portal's secret key.
Forms send the token in the field ``csrf_token``; htmx and fetch send the header
``X-CSRF-Token``. Multipart bodies (evidence uploads) are never buffered to find the field, so
they must send the header. Requests with ``Authorization: Bearer`` carry no cookies and are not
checked.

Headers: every response gets a Content-Security-Policy without inline scripts, frame-ancestors
'none' and X-Frame-Options DENY, nosniff, Referrer-Policy same-origin, and HSTS over HTTPS.
Every response to a signed-in person, to someone half-way through sign-in, or to a request with
a service token gets ``Cache-Control: no-store`` (pages, API answers, downloads alike), so no
browser or proxy cache keeps what they saw; static files and anonymous pages stay cacheable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from audit_portal.errors import CsrfRefused, wants_json
from audit_portal.i18n import resolve_language
from audit_portal.navigation import navigation_for
from audit_portal.principals import PASSWORD_CHANGE_PAGE, PasswordChangeRequired, SignInRequired

if TYPE_CHECKING:
    from audit_portal.auth.identify import Identity

ANON_CSRF_COOKIE = "portal_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONTENT_SECURITY_POLICY = "; ".join(
    [  # noqa: FLY002 - one directive per line reads better
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
STATIC_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
_CACHE_HEADERS = frozenset({b"cache-control", b"expires", b"pragma"})


class SignedInUser:
    """What templates see as ``request.state.user``."""

    def __init__(self, username: str, role: str) -> None:
        self.username = username
        self.role = role


# --- anonymous double-submit token ---------------------------------------------------------


def _signature(secret_key: str, nonce: str) -> str:
    return hmac.new(secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()[:32]


def new_anonymous_token(secret_key: str) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_signature(secret_key, nonce)}"


def anonymous_token_valid(secret_key: str, token: str | None) -> bool:
    if not token or token.count(".") != 1 or len(token) > 200:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, _signature(secret_key, nonce))


# --- used by Authorize ---------------------------------------------------------------------


def prepare_request_state(request: Request, session: Session, identity: Identity) -> None:
    """Leave the user, the CSRF token and the navigation for the templates."""
    principal = identity.principal
    request.state.principal = principal
    if principal.is_token:
        return
    if identity.web_session is not None:
        request.state.csrf_token = identity.web_session.csrf_token
    else:
        secret_key = request.app.state.settings.secret_key
        cookie = request.cookies.get(ANON_CSRF_COOKIE)
        if not anonymous_token_valid(secret_key, cookie):
            cookie = new_anonymous_token(secret_key)
            # The security middleware sets the cookie on whatever response the route returns.
            request.state.set_anon_csrf_cookie = cookie
        request.state.csrf_token = cookie
    user = identity.user
    if user is not None:
        # The reader's own choices win over the browser's language and the organisation's zone.
        request.state.language = resolve_language(user.language, request.headers.get("accept-language"))
        request.state.time_zone = user.time_zone
    if not principal.is_anonymous:
        request.state.user = SignedInUser(principal.username, principal.role)
        request.state.nav = navigation_for(principal.role)


def check_csrf(request: Request, identity: Identity, submitted: str | None) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    if not submitted:
        raise CsrfRefused()
    if identity.web_session is not None:
        if not hmac.compare_digest(submitted, identity.web_session.csrf_token):
            raise CsrfRefused()
        return
    cookie = request.cookies.get(ANON_CSRF_COOKIE)
    secret_key = request.app.state.settings.secret_key
    if not (cookie and hmac.compare_digest(submitted, cookie) and anonymous_token_valid(secret_key, cookie)):
        raise CsrfRefused()


# --- cookies -------------------------------------------------------------------------------


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    from audit_portal.auth.sessions import COOKIE_NAME

    response.set_cookie(
        COOKIE_NAME,
        value,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    from audit_portal.auth.sessions import COOKIE_NAME

    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="lax", secure=is_https(request), path="/")


def _anon_cookie_header(scope: Scope, value: str) -> tuple[bytes, bytes]:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    cookie = f"{ANON_CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"
    return (b"set-cookie", cookie.encode())


# --- middleware and the sign-in redirect ---------------------------------------------------


def _authenticated(scope: Scope) -> bool:
    """Whether the request came with credentials the portal accepted (or is checking): the
    principal and identity ``Authorize`` left in the request state, or a bearer token."""
    state = scope.get("state", {})
    principal = state.get("principal")
    if principal is not None and not principal.is_anonymous:
        return True
    identity = state.get("identity")
    if identity is not None and getattr(identity, "web_session", None) is not None:
        return True
    return any(name == b"authorization" for name, _ in scope.get("headers", []))


class SecurityMiddleware:
    """Pure ASGI (it never touches the body, so streamed uploads and downloads stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {h[0] for h in STATIC_HEADERS}
                ]
                headers.extend(STATIC_HEADERS)
                if _authenticated(scope):
                    headers = [(name, value) for name, value in headers if name.lower() not in _CACHE_HEADERS]
                    headers.append(NO_STORE)
                if scope.get("scheme") == "https":
                    headers.append(HSTS)
                anon_cookie = scope.get("state", {}).get("set_anon_csrf_cookie")
                if anon_cookie:
                    headers.append(_anon_cookie_header(scope, anon_cookie))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _sign_in_redirect(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    if request.headers.get("hx-request") == "true":
        # htmx follows redirects inside the swap; HX-Redirect sends the whole page to sign-in.
        return Response(status_code=204, headers={"HX-Redirect": error.login_url})
    return RedirectResponse(error.login_url, status_code=303)


async def _password_change_redirect(request: Request, error: Exception) -> Response:
    assert isinstance(error, PasswordChangeRequired)
    if wants_json(request):
        from audit_portal.errors import problem_response

        return problem_response(
            request, status=error.status_code, title=error.title, detail=error.detail, slug="password-change-required"
        )
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": PASSWORD_CHANGE_PAGE})
    return RedirectResponse(PASSWORD_CHANGE_PAGE, status_code=303)


def install_security(app: FastAPI, trusted_proxies: list[str]) -> None:
    app.add_exception_handler(SignInRequired, _sign_in_redirect)
    app.add_exception_handler(PasswordChangeRequired, _password_change_redirect)
    app.add_middleware(SecurityMiddleware)
    # Outermost, so everything inside (HSTS and Secure cookies above, the client address that
    # throttling and the audit log record) sees the client and scheme the trusted proxy reports.
    # X-Forwarded-* from any other peer are ignored. In the app rather than in the server, so
    # it holds however the portal is served (``audit-portal serve``, uvicorn, gunicorn, tests).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies)
