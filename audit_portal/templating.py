"""Jinja2 templates and the one helper that decides between a full page and an htmx fragment.

A page template extends ``layouts/base.html`` and fills the ``content`` block. An htmx request
(``HX-Request`` without ``HX-Boosted`` and not a history restore) gets only the named block;
the same URL without htmx gets the full page. Every such response says ``Vary: HX-Request`` so
a cache never serves a fragment as a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from jinja2_fragments.fastapi import Jinja2Blocks

import audit_portal
from audit_portal import i18n
from audit_portal.search import highlight

STATIC_DIR = Path(audit_portal.__file__).parent / "static"


def templates_dir() -> Path:
    """The top-level ``templates/`` folder in a source checkout; inside a wheel it is shipped as
    ``audit_portal/_templates``."""
    package = Path(audit_portal.__file__).parent
    for candidate in (package.parent / "templates", package / "_templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("templates folder not found next to the audit_portal package")


# --- translations and locale formatting -------------------------------------------------------
# One environment serves every request at once, so nothing per-request is installed on it: the
# gettext callables and the filters read the reader's translations, language and time zone from
# the render context (``i18n_context`` builds those keys; without them: English, the
# organisation's time zone).


def _translations(context: Context) -> Any:
    return context.get("translations") or i18n.gettext_for(context.get("language"))


def _language(context: Context) -> str:
    return str(context.get("language") or i18n.DEFAULT_LANGUAGE)


def _zone(context: Context) -> Any:
    return i18n.zone(context.get("time_zone"), context.get("organisation_time_zone") or i18n.DEFAULT_TIME_ZONE)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return str(_translations(context).gettext(message))


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return str(_translations(context).ngettext(singular, plural, count))


@pass_context
def _datetime_filter(context: Context, value: Any) -> str:
    return i18n.format_local_datetime(value, _language(context), _zone(context))


@pass_context
def _date_filter(context: Context, value: Any) -> str:
    return i18n.format_local_date(value, _language(context), _zone(context))


@pass_context
def _number_filter(context: Context, value: Any, decimals: int | None = None) -> str:
    return i18n.format_number(value, _language(context), decimals)


@pass_context
def _percent_filter(context: Context, value: Any) -> str:
    return i18n.format_percentage(value, _language(context))


@pass_context
def _status_filter(context: Context, value: Any) -> str:
    """An internal status name ("timed_out") as the reader's word for it."""
    return str(_translations(context).gettext(str(value).replace("_", " ")))


@pass_context
def _localized_filter(context: Context, item: Any, field: str = "title") -> str:
    """A catalogue text in the reader's language where the catalogue holds it (the Annex 2
    measures carry Dutch; ISO/IEC 27001 titles stay as the standard names them)."""
    if _language(context) == "nl":
        dutch = getattr(item, f"{field}_nl", None)
        if dutch:
            return str(dutch)
    return str(getattr(item, field, "") or "")


@pass_context
def _said_filter(context: Context, value: Any) -> Any:
    """A phrase composed in Python (a coverage status's reason, the SoA's contradiction) in the
    reader's language; any other value as it is."""
    if isinstance(value, i18n.Phrase | i18n.Phrases):
        return value.in_language(_language(context))
    return value


def i18n_context(language: str, time_zone: str | None, organisation_time_zone: str) -> dict[str, Any]:
    """What a render needs to speak ``language`` and show times in the reader's zone."""
    return {
        "language": language,
        "translations": i18n.gettext_for(language),
        "time_zone": time_zone or organisation_time_zone,
        "organisation_time_zone": organisation_time_zone,
    }


def install_i18n(env: Environment) -> None:
    """Jinja2's i18n extension with the context-reading gettext, and the locale filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # babel.cfg extracts with trimmed = true too
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]  # jinja2.ext.i18n adds it to the Environment at runtime
    env.filters["datetime"] = _datetime_filter
    env.filters["date"] = _date_filter
    env.filters["number"] = _number_filter
    env.filters["percent"] = _percent_filter
    env.filters["status"] = _status_filter
    env.filters["role"] = _status_filter  # a role name is translated the same way
    env.filters["localized"] = _localized_filter
    env.filters["said"] = _said_filter


def build_templates(extra_globals: Mapping[str, Any] | None = None) -> Jinja2Blocks:
    templates = Jinja2Blocks(directory=str(templates_dir()))
    env = templates.env
    install_i18n(env)
    env.globals.update(extra_globals or {})
    env.filters["filesize"] = format_size
    env.filters["highlight"] = highlight
    return templates


def format_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def is_fragment_request(request: Request) -> bool:
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template``; for an htmx fragment request render only ``block`` (when given)."""
    templates: Jinja2Blocks = request.app.state.templates
    language = request_language(request)
    settings = request.app.state.settings
    full_context = {
        "request": request,
        **i18n_context(language, getattr(request.state, "time_zone", None), settings.time_zone),
        **(context or {}),
    }
    block_name = block if block and is_fragment_request(request) else None
    # jinja2-fragments declares Response; what it returns is Starlette's HTML template response
    response = cast(
        HTMLResponse,
        templates.TemplateResponse(
            request,
            template,
            full_context,
            status_code=status_code,
            headers=dict(headers or {}),
            block_name=block_name,
        ),
    )
    response.headers["Vary"] = "HX-Request, Accept-Language"
    response.headers["Content-Language"] = language
    return response


def request_language(request: Request) -> str:
    """The language Authorize resolved for the signed-in user, else the browser's choice (pages
    rendered before Authorize ran, such as a 404, follow the browser)."""
    language = getattr(request.state, "language", None)
    if language is None:
        language = i18n.from_accept_language(request.headers.get("accept-language"))
        request.state.language = language
    return str(language)
