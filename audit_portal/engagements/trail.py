"""What an auditor may read of the audit log, inside their engagement: the change history of the
Statement of Applicability during the period, and the events about the evidence (and the
collector runs) of the period. Read-only, scoped like every workspace page: an engagement the
reader may not see answers 404 (scope.get_engagement), nothing outside the period shows, and no
other audit event does, least of all the work of auditors of other engagements."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from audit_portal.audit import presenters
from audit_portal.audit import repository as audit_repository
from audit_portal.audit.models import AuditEvent
from audit_portal.collection import repository as collection_repository
from audit_portal.engagements import scope
from audit_portal.engagements.models import Engagement
from audit_portal.evidence import repository as evidence_repository

PAGE_SIZE = 50
SOA_ACTIONS = ("soa.update", "soa.defaults")
SOA_FIELDS = ("applicable", "justification", "status", "owner")


@dataclass(frozen=True)
class TrailRow:
    event: AuditEvent
    detail: dict[str, Any]
    changes: list[tuple[str, str, str]]  # SoA changes: (field, before, after)
    readable: presenters.ReadableEvent  # the event as the reader's sentence and lines


@dataclass(frozen=True)
class TrailPage:
    rows: list[TrailRow]
    older: int | None  # the ``before`` of the next page; None: this is the last
    action: str  # the action prefix filtered on


def _auditors(session: Session, engagement: Engagement) -> tuple[str, ...]:
    accounts = scope.auditors_of(session, [engagement.id]).get(engagement.id, [])
    return tuple(user.username for user in accounts)


def _page(session: Session, trail: audit_repository.ObjectsInScope, before: int | None, language: str) -> TrailPage:
    events = audit_repository.scoped_events(session, trail, before=before, limit=PAGE_SIZE + 1)
    shown = events[:PAGE_SIZE]
    rows = [
        TrailRow(event, _detail(event), _soa_changes(event), presenters.readable(event, language)) for event in shown
    ]
    return TrailPage(rows, shown[-1].id if len(events) > PAGE_SIZE else None, trail.action_prefix)


def soa_history(session: Session, engagement: Engagement, *, before: int | None = None, language: str) -> TrailPage:
    """The SoA's changes during the engagement's period, newest first, each with what changed."""
    start, end = scope.engagement_window(engagement)
    trail = audit_repository.ObjectsInScope(
        actions=SOA_ACTIONS, since=start, until=end, auditors=_auditors(session, engagement)
    )
    return _page(session, trail, before, language)


def evidence_events(
    session: Session, engagement: Engagement, *, before: int | None = None, action: str = "", language: str
) -> TrailPage:
    """The events about the evidence collected in the period and the collector runs of the
    period (uploads, reviews, sign-offs, rule decisions, legal holds, integrity), newest first."""
    start, end = scope.engagement_window(engagement)
    trail = audit_repository.ObjectsInScope(
        objects=(
            ("evidence", evidence_repository.ids_collected_between(start, end)),
            ("collector_run", collection_repository.run_ids_started_between(start, end)),
        ),
        auditors=_auditors(session, engagement),
        action_prefix=action.strip()[:100],
    )
    return _page(session, trail, before, language)


def _detail(event: AuditEvent) -> dict[str, Any]:
    try:
        loaded = json.loads(event.detail or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _soa_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    if event.action != "soa.update":
        return []
    detail = _detail(event)
    before, after = detail.get("before") or {}, detail.get("after") or {}
    return [
        (name, _shown(before.get(name)), _shown(after.get(name)))
        for name in SOA_FIELDS
        if before.get(name) != after.get(name)
    ]


def _shown(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "applicable" if value else "not applicable"
    return str(value)
