"""Known devices: a signed cookie a browser gets when someone signs in on it, so that a stranger
guessing passwords for that account cannot lock its owner out.

Sign-in throttling locks an account after repeated failures (auth/throttle.py). Without more,
anyone who knows the name ``admin`` could keep the administrator out for good. The cookie
(HttpOnly, SameSite=Lax, Secure over HTTPS) names the account and carries a random device id
and an expiry, signed with the portal's secret key. A sign-in attempt for that account from a
browser holding a valid cookie is throttled per device instead of per account and address: its
owner keeps trying while strangers are locked out, and a stolen laptop still gets only a few
guesses before its own device lock. This is the device-cookie scheme OWASP describes for
brute-force protection, which NIST SP 800-63B (5.2.2, rate limiting) allows alongside limiting
failed attempts per account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import Response

from audit_portal import clock

COOKIE_NAME = "portal_device"
LIFETIME = timedelta(days=30)
_PURPOSE = b"known-device\n"  # the secret key signs other things too; keep the uses apart


@dataclass(frozen=True)
class KnownDevice:
    username: str
    device_id: str


def _signature(secret_key: str, payload: str) -> str:
    return hmac.new(secret_key.encode(), _PURPOSE + payload.encode(), hashlib.sha256).hexdigest()[:40]


def issue(secret_key: str, username: str, now: datetime | None = None) -> str:
    expires = int(((now or clock.utcnow()) + LIFETIME).timestamp())
    name = base64.urlsafe_b64encode(username.encode()).decode().rstrip("=")
    payload = f"{name}.{secrets.token_urlsafe(16)}.{expires}"
    return f"{payload}.{_signature(secret_key, payload)}"


def read(secret_key: str, value: str | None, now: datetime | None = None) -> KnownDevice | None:
    """The device a cookie value names, or None when it is missing, forged or expired."""
    if not value or len(value) > 400 or value.count(".") != 3:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(signature, _signature(secret_key, payload)):
        return None
    name, device_id, expires = payload.split(".")
    try:
        username = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        if int(expires) <= (now or clock.utcnow()).timestamp():
            return None
    except ValueError:
        return None
    return KnownDevice(username, device_id)


def device_of(request: Request) -> KnownDevice | None:
    """The known device the request's cookie names, for whichever user it was issued."""
    return read(request.app.state.settings.ensure_secret_key(), request.cookies.get(COOKIE_NAME))


def for_user(device: KnownDevice | None, username: str) -> KnownDevice | None:
    """``device`` when it was issued for ``username``."""
    return device if device is not None and device.username == username else None


def device_for(request: Request, username: str) -> KnownDevice | None:
    """The request's known device, when it was issued for ``username``."""
    return for_user(device_of(request), username)


def remember(response: Response, request: Request, username: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        issue(request.app.state.settings.ensure_secret_key(), username),
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login",
    )
