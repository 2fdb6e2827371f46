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
from jinja2_fragments.fastapi import Jinja2Blocks

import audit_portal
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


def build_templates(extra_globals: Mapping[str, Any] | None = None) -> Jinja2Blocks:
    templates = Jinja2Blocks(directory=str(templates_dir()))
    env = templates.env
    env.globals.update(extra_globals or {})
    env.filters["datetime"] = lambda value: value.strftime("%Y-%m-%d %H:%M") if value else "—"
    env.filters["date"] = lambda value: value.strftime("%Y-%m-%d") if value else "—"
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
    full_context = {"request": request, **(context or {})}
    block_name = block if block and is_fragment_request(request) else None
    # jinja2-fragments declares Response; what it returns is Starlette's HTML template response
    response = cast(HTMLResponse, templates.TemplateResponse(
        request,
        template,
        full_context,
        status_code=status_code,
        headers=dict(headers or {}),
        block_name=block_name,
    ))
    response.headers["Vary"] = "HX-Request"
    return response
