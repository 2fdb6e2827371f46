"""Domain errors and how they reach the client.

Services raise :class:`PortalError` subclasses; one handler turns them into an RFC 9457 problem
JSON for the API and for clients asking for JSON, or into the error page (or an htmx partial)
for browsers. Bad input never gets a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from audit_portal.db import is_database_busy
from audit_portal.i18n import N_, Wording

PROBLEM_JSON = "application/problem+json"


class PortalError(Exception):
    status_code = 400
    title = N_("Bad request")
    slug = "bad-request"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, values: Mapping[str, object] | None = None
    ) -> None:
        """``detail`` is English; with ``values`` it is a catalogue message with ``%(name)s``
        placeholders, filled in here for the API, the CLI and the logs, and in the reader's
        language by :meth:`in_language` for a page."""
        self.message = detail
        self.values = dict(values or {})
        self.detail = detail % self.values if self.values else detail
        super().__init__(self.detail)
        # A field error may carry "values" for its message's placeholders too: the API gets the
        # English message filled in (and no "values" key), field_errors() the reader's.
        self._fields = [(item, dict(item.get("values") or {})) for item in errors or []]
        self.errors = [
            {key: value for key, value in item.items() if key != "values"}
            | ({"message": item["message"] % filled} if filled else {})
            for item, filled in self._fields
        ]

    def in_language(self, language: str) -> str:
        return Wording(language).gettext(self.message, **self.values)

    def field_errors(self, language: str) -> dict[str, str]:
        """The first message for each field, in ``language``, values filled in after translation."""
        say = Wording(language)
        found: dict[str, str] = {}
        for item, filled in self._fields:
            found.setdefault(str(item["location"]), say.gettext(str(item["message"]), **filled))
        return found


class InvalidInput(PortalError):
    status_code = 422
    title = N_("Invalid input")
    slug = "invalid-input"


class NotAuthenticated(PortalError):
    status_code = 401
    title = N_("Sign-in required")
    slug = "not-authenticated"


class Forbidden(PortalError):
    status_code = 403
    title = N_("Forbidden")
    slug = "forbidden"


class NotFound(PortalError):
    status_code = 404
    title = N_("Not found")
    slug = "not-found"


class Conflict(PortalError):
    status_code = 409
    title = N_("Conflict")
    slug = "conflict"


class PayloadTooLarge(PortalError):
    status_code = 413
    title = N_("Payload too large")
    slug = "payload-too-large"


class TooManyRequests(PortalError):
    status_code = 429
    title = N_("Too many requests")
    slug = "too-many-requests"


class ServiceUnavailable(PortalError):
    status_code = 503
    title = N_("Service unavailable")
    slug = "service-unavailable"


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    values: Mapping[str, object] | None = None,
) -> Response:
    """``detail`` is an English message, a catalogue entry where it has one; ``values`` fill its
    ``%(name)s`` placeholders. Programs get it in English, a page in the reader's language."""
    if wants_json(request):
        body: dict[str, Any] = {
            "type": f"/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail % values if values else detail,
            "instance": request.url.path,
        }
        if errors:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    from audit_portal.templating import render, request_language  # templating imports errors for its own types

    # Translated here, values after the words: a value holding "%" must not reach a format string.
    shown = Wording(request_language(request)).gettext(detail, **(values or {}))
    return render(
        request,
        "pages/error.html",
        {"status": status, "title": title, "detail": shown, "errors": errors or []},
        block="content",
        status_code=status,
        headers=headers,
    )


async def _portal_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PortalError)
    return portal_error_response(request, error)


def portal_error_response(request: Request, error: PortalError) -> Response:
    return problem_response(
        request,
        status=error.status_code,
        title=error.title,
        detail=error.message,
        values=error.values,
        slug=error.slug,
        errors=error.errors,
    )


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
    ]
    detail = "; ".join(f"{item['location']}: {item['message']}" for item in errors)
    return problem_response(
        request, status=422, title=N_("Invalid input"), detail=detail, slug="invalid-input", errors=errors
    )


# The details Starlette gives its own 404 and 405 (an unknown path, a method a path does not take):
# the problem JSON keeps them as they are, an error page says them in the reader's language.
STARLETTE_DETAILS = (N_("Not Found"), N_("Method Not Allowed"))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    title = {404: N_("Not found"), 405: N_("Method not allowed")}.get(error.status_code, N_("Error"))
    return problem_response(
        request,
        status=error.status_code,
        title=title,
        detail=str(error.detail),
        slug=title.lower().replace(" ", "-"),
        headers=getattr(error, "headers", None),
    )


# Seconds a client is asked to wait after the database was too busy to take its write.
BUSY_RETRY_AFTER = 5


async def _database_error(request: Request, error: Exception) -> Response:
    """SQLite's write lock stayed taken for the whole busy timeout: the request's transaction
    was rolled back, so nothing was saved and the same request can simply be sent again. Any
    other database error is a fault and stays a 500."""
    if not is_database_busy(error):
        raise error
    return problem_response(
        request,
        status=503,
        title=N_("Database busy"),
        slug="database-busy",
        # One fixed sentence, so the error page can translate it; Retry-After carries the seconds.
        detail=N_(
            "The database is busy with other changes and could not take this one in time; nothing was "
            "saved. Try again in a few seconds."
        ),
        headers={"Retry-After": str(BUSY_RETRY_AFTER)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PortalError, _portal_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)


class CsrfRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(N_("The form's security token is missing or expired. Reload the page and try again."))
