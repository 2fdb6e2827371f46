"""How a browser form ends: the change succeeds and the route answers (mostly a 303 to the page
that shows the result), or a service refuses the input and the same page comes back with the
reasons beside the fields, in the reader's language, as 422.

Every HTML route that posts a form goes through :func:`submit_form`, so the status, the language
and the shape of the errors are decided once (``tests/foundation/test_form_submission.py`` fails
on a route that catches :class:`~audit_portal.errors.InvalidInput` itself). Services refuse before
they write, so a refused form changes nothing (``tests/security/test_refused_forms.py``).
Templates show the reasons with the macros in ``templates/layouts/_fields.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from audit_portal.errors import InvalidInput, PortalError
from audit_portal.templating import request_language

# For the account forms (an administrator's user and token forms, one's own password and second
# factor): "that name is taken", "not your own account" and "wrong password" belong beside the form
# too, not on the error page.
EVERY_REFUSAL: tuple[type[PortalError], ...] = (PortalError,)


@dataclass(frozen=True)
class Refusal:
    """Why a service refused a form, in the reader's language."""

    fields: dict[str, str]  # the first reason for each field the service named, in form order
    message: str  # the whole refusal as one sentence

    def by_field(self, fallback: str) -> dict[str, str]:
        """The reasons by field; a refusal that names no field is shown at ``fallback``."""
        return self.fields or {fallback: self.message}

    def first_field(self, fallback: str) -> str:
        return next(iter(self.fields), fallback)

    def sentence(self) -> str:
        """Every field's reason in one line, for a page that shows the refusal in one place."""
        return " ".join(self.fields.values()) or self.message


def submit_form(
    request: Request,
    change: Callable[[], Response],
    refused: Callable[[Refusal], Response],
    *,
    refusals: tuple[type[PortalError], ...] = (InvalidInput,),
) -> Response:
    """Run ``change`` and return its response; when it raises one of ``refusals``, return the
    page ``refused`` renders from the reasons, with the refusal's status (422 for bad input).
    Any other error reaches the error page as usual."""
    try:
        return change()
    except refusals as error:
        language = request_language(request)
        page = refused(Refusal(error.field_errors(language), error.in_language(language)))
        page.status_code = error.status_code
        return page


def see_other(url: str) -> RedirectResponse:
    """After a successful post, the page that shows the result (POST/redirect/GET)."""
    return RedirectResponse(url, status_code=303)
