"""/admin/audit-log: list, filter and export (CSV) the audit trail."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from audit_portal import clock
from audit_portal.audit import presenters, repository
from audit_portal.audit.checkpoints import newest_checkpoint_item
from audit_portal.audit.repository import EventFilter
from audit_portal.audit.service import export_rows, record_event
from audit_portal.authz import Authorize, Principal
from audit_portal.db import SessionDep
from audit_portal.errors import InvalidInput
from audit_portal.i18n import N_
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter(prefix="/admin/audit-log", tags=["audit"])
AuditReader = Annotated[Principal, Authorize("audit:read")]
PAGE_SIZE = 100


def _day(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return clock.as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(N_("%(field)s: use a date like 2026-12-31."), values={"field": name}) from None


def _filter(actor: str, action: str, outcome: str, since: str, until: str) -> EventFilter:
    until_day = _day(until, "until")
    return EventFilter(
        actor=actor.strip().lower(),
        action=action.strip(),
        outcome=outcome.strip(),
        since=_day(since, "from"),
        # 'until' names a day and includes it
        until=until_day + timedelta(days=1) if until_day else None,
    )


@router.get("")
def audit_log(
    request: Request,
    session: SessionDep,
    principal: AuditReader,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    event_filter = _filter(actor, action, outcome, since, until)
    page = max(page, 1)
    events = repository.find_events(session, event_filter, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    total = repository.count_events(session, event_filter)
    query = {"actor": actor, "action": action, "outcome": outcome, "since": since, "until": until}
    context = {
        "events": [presenters.readable(event, request_language(request)) for event in events],
        "total": total,
        "page": page,
        "has_next": page * PAGE_SIZE < total,
        "query": query,
        "query_string": urlencode({k: v for k, v in query.items() if v}),
        "newest_checkpoint": newest_checkpoint_item(session),
    }
    return render(request, "pages/admin/audit_log.html", context, block="events")


@router.get("/export.csv")
def export_csv(
    request: Request,
    session: SessionDep,
    principal: AuditReader,
    actor: str = "",
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    event_filter = _filter(actor, action, outcome, since, until)
    # Recorded before the rows are read, so the export is itself on the trail it exports.
    record_event(
        session,
        actor=actor_of(request, principal),
        action="audit.export",
        object_type="audit_log",
        detail={
            k: v
            for k, v in {"actor": actor, "action": action, "outcome": outcome, "since": since, "until": until}.items()
            if v
        },
    )
    rows = list(export_rows(repository.iter_events(session, event_filter), request_language(request)))
    filename = f"audit-log-{clock.utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        _csv_lines(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv_lines(rows: list[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_neutralise(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _neutralise(cell: str) -> str:
    """A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
