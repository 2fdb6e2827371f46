"""Recording audit events into a SHA-256 hash chain, and checking that chain.

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON of the
event's own fields (id included), so editing, deleting or reordering any row breaks the chain
from that row on. Appends lock the single chain-head row, so concurrent writers queue instead of
forking the chain.

Use from any domain::

    record_event(session, request=request, principal=principal, action="evidence.download",
                 object_type="evidence", object_id=str(evidence.id))
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit import repository
from audit_portal.audit.models import GENESIS_HASH, AuditEvent
from audit_portal.principals import Principal, principal_label

HASHED_FIELDS = (
    "id", "at", "actor", "actor_role", "address", "action", "object_type", "object_id",
    "outcome", "detail",
)


def client_address(request: Request | None) -> str | None:
    if request is None or request.client is None:
        return None
    return request.client.host[:64]


def record_event(
    session: Session,
    *,
    request: Request | None,
    principal: Principal | None,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEvent:
    """Append one event. ``actor`` overrides the principal's name where nobody is signed in
    yet (a failed sign-in records the user name that was tried)."""
    head = repository.lock_chain_head(session)
    principal_name, role = principal_label(principal)
    event = AuditEvent(
        id=head.last_event_id + 1,
        at=clock.utcnow(),
        actor=(actor or principal_name)[:100],
        actor_role=role,
        address=client_address(request),
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:200],
        outcome=outcome,
        detail=canonical_json(detail or {}),
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    session.flush()
    return event


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(event: AuditEvent) -> str:
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["at"] = clock.as_utc(event.at).isoformat(timespec="microseconds")
    payload = event.prev_hash + "\n" + canonical_json(fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"event {self.event_id}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain from the first event; report the first event that breaks it."""
    checked = 0
    expected_prev = GENESIS_HASH
    expected_id = 1
    for event in repository.events_in_order(session):
        problem = _check_event(event, expected_id, expected_prev)
        if problem:
            return ChainReport(checked, problem)
        checked += 1
        expected_prev = event.hash
        expected_id = event.id + 1
    head = repository.chain_head(session)
    if head.last_event_id != expected_id - 1 or head.last_hash != expected_prev:
        missing = ChainProblem(
            expected_id,
            f"missing: the chain head records event {head.last_event_id}, "
            f"the log ends at event {expected_id - 1} (events were deleted)",
        )
        return ChainReport(checked, missing)
    return ChainReport(checked, None)


def _check_event(event: AuditEvent, expected_id: int, expected_prev: str) -> ChainProblem | None:
    if event.id != expected_id:
        return ChainProblem(expected_id, f"missing (the next event present is {event.id})")
    if event.prev_hash != expected_prev:
        return ChainProblem(event.id, "previous-hash does not match the event before it")
    if event_hash(event) != event.hash:
        return ChainProblem(event.id, "content does not match its hash (the row was changed)")
    return None


def export_rows(events: Iterator[AuditEvent]) -> Iterator[list[str]]:
    yield ["id", "at", "actor", "role", "address", "action", "object_type", "object_id",
           "outcome", "detail", "hash"]
    for event in events:
        yield [
            str(event.id), event.at.isoformat(timespec="seconds"), event.actor, event.actor_role,
            event.address or "", event.action, event.object_type, event.object_id,
            event.outcome, event.detail, event.hash,
        ]
