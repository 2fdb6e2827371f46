"""Refused access as audit events: 403s, 404s on scoped resources (engagements/scope.py),
refused service tokens and failed sign-ins, each with actor, route and reason.

A flood must not fill the log: per source (the signed-in user or token, else the client
address) and reason, at most ``PER_SOURCE_PER_MINUTE`` refusals are logged each minute, and at
most ``ALL_SOURCES_PER_MINUTE`` from all sources together. The rest are counted, not logged: the
first refusal logged for that source and reason in a later minute carries ``suppressed_before``,
and tallies nobody comes back for are summed into one ``access.refused.suppressed`` event after
an hour. Tallies are kept under the audit chain's lock, so several portal instances count as one.

A refusal's own request rolls back, so the event is written in a unit of work of its own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from audit_portal import clock
from audit_portal.audit import refusal_repository as repository
from audit_portal.audit.refusal_models import AccessRefusalTally
from audit_portal.audit.repository import lock_chain_head
from audit_portal.audit.service import record_event
from audit_portal.db import separate_unit_of_work
from audit_portal.engagements.scope import OutOfScope
from audit_portal.errors import CsrfRefused, Forbidden, NotAuthenticated, PortalError, portal_error_response
from audit_portal.principals import ANONYMOUS_PRINCIPAL, Actor
from audit_portal.request_actor import actor_of, route_of

PER_SOURCE_PER_MINUTE = 10
ALL_SOURCES_PER_MINUTE = 300
KEEP_TALLIES = timedelta(hours=1)
REFUSED = "access.refused"
SUPPRESSED = "access.refused.suppressed"
SYSTEM_ACTOR = Actor.system("refusal-log")  # sums up the refusals nobody came back for

log = logging.getLogger(__name__)


def _source(actor: Actor) -> str:
    if not actor.principal.is_anonymous:
        return actor.principal.username[:120]
    # Nobody signed in: the name tried at sign-in is the caller's choice, the address is not.
    return f"address {actor.address or 'unknown'}"[:120]


def record_refusal(
    session: Session,
    *,
    actor: Actor,
    reason: str,
    route: str = "",
    action: str = REFUSED,
    actor_name: str | None = None,
    object_type: str = "route",
    object_id: str = "",
    outcome: str = "refused",
    detail: dict[str, Any] | None = None,
) -> bool:
    """Log one refusal unless its source has used up this minute's allowance; True if logged.
    ``route`` is the refused route (``GET /admin/users``), when the refusal answers a request."""
    lock_chain_head(session)  # one writer at a time, across instances: the tallies stay exact
    now = clock.utcnow()
    minute = now.replace(second=0, microsecond=0)
    source, reason = _source(actor), reason[:100]
    _summarise_stale(session, now)
    tally = repository.tally(session, source=source, reason=reason, minute=minute)
    suppressed_before = 0
    if tally is None:
        earlier = repository.earlier_tallies(session, source=source, reason=reason, before=minute)
        suppressed_before = sum(t.suppressed for t in earlier)
        repository.delete_tallies(session, [t.id for t in earlier if t.id is not None])
        tally = repository.add(session, AccessRefusalTally(source=source, reason=reason, minute=minute))
    if tally.recorded >= PER_SOURCE_PER_MINUTE or repository.recorded_since(session, minute) >= ALL_SOURCES_PER_MINUTE:
        tally.suppressed += 1
        session.flush()
        return False
    tally.recorded += 1
    session.flush()
    described: dict[str, Any] = {**(detail or {}), "reason": reason, "route": route}
    if suppressed_before:
        described["suppressed_before"] = suppressed_before
    record_event(
        session,
        actor=actor,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=object_id or route,
        outcome=outcome,
        detail=described,
    )
    return True


def _summarise_stale(session: Session, now: datetime) -> None:
    stale = repository.stale_tallies(session, (now - KEEP_TALLIES).replace(second=0, microsecond=0))
    if not stale:
        return
    suppressed: dict[str, int] = {}
    for tally in stale:
        if tally.suppressed:
            suppressed[tally.reason] = suppressed.get(tally.reason, 0) + tally.suppressed
    repository.delete_tallies(session, [t.id for t in stale if t.id is not None])
    if suppressed:
        record_event(
            session,
            actor=SYSTEM_ACTOR,
            action=SUPPRESSED,
            object_type="route",
            outcome="refused",
            detail={"suppressed_by_reason": suppressed},
        )


# --- refusals the error handlers answer ---------------------------------------------------------


def _reason(request: Request, error: PortalError) -> str | None:
    if isinstance(error, OutOfScope):
        return error.refusal_reason
    if isinstance(error, CsrfRefused):
        return "csrf token missing or wrong"
    if isinstance(error, Forbidden):
        return "not allowed for the role"
    if isinstance(error, NotAuthenticated) and request.headers.get("authorization"):
        return "service token refused"
    return None  # anonymous without credentials: sent to sign in, not an attack on anything


def _record(request: Request, error: PortalError, reason: str) -> None:
    principal = getattr(request.state, "principal", None) or ANONYMOUS_PRINCIPAL
    with separate_unit_of_work(request) as session:
        record_refusal(
            session,
            actor=actor_of(request, principal),
            reason=reason,
            route=route_of(request),
            detail={"status": error.status_code},
        )


async def _log_and_answer(request: Request, error: Exception) -> Response:
    assert isinstance(error, PortalError)
    reason = _reason(request, error)
    if reason is not None:
        try:
            await run_in_threadpool(_record, request, error, reason)
        except Exception:
            log.exception("could not log a refused access to %s", route_of(request))
    return portal_error_response(request, error)


def install_refusal_log(app: FastAPI) -> None:
    for refused in (OutOfScope, Forbidden, NotAuthenticated):
        app.add_exception_handler(refused, _log_and_answer)
