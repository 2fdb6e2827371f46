"""Recording audit events into a hash chain with a keyed MAC, and checking that chain.

Each event's ``hash`` is SHA-256 over the previous event's hash and the canonical JSON of the
event's own fields (id included), so editing, deleting or reordering any row breaks the chain
from that row on. Anyone can recompute plain hashes, so each event also carries ``mac``:
HMAC-SHA256, with a key that is not in the database (:mod:`audit_portal.audit.keys`), over the
previous event's MAC and its own hash. Someone who can write the database but lacks the key
cannot forge it. Deleting the newest events and moving the head back leaves a valid chain; the
signed checkpoints in the evidence store (:mod:`audit_portal.audit.checkpoints`) catch that.
Appends lock the single chain-head row, so concurrent writers queue instead of forking the chain.

Use from any domain::

    record_event(session, actor=actor, action="evidence.download",
                 object_type="evidence", object_id=str(evidence.id))

``actor`` is an :class:`~audit_portal.principals.Actor`: who (the principal) and from where
(the client address).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit import keys, repository
from audit_portal.audit.keys import GENESIS_MAC, ChainKey
from audit_portal.audit.models import GENESIS_HASH, AuditEvent
from audit_portal.i18n import DEFAULT_LANGUAGE, N_, Wording
from audit_portal.principals import Actor, principal_label

HASHED_FIELDS = (
    "id",
    "at",
    "actor",
    "actor_role",
    "address",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "detail",
)


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEvent:
    """Append one event. ``actor_name`` overrides the principal's name where nobody is signed in
    yet (a failed sign-in records the user name that was tried)."""
    key = keys.for_session(session)
    head = repository.lock_chain_head(session)
    principal_name, role = principal_label(actor.principal)
    event = AuditEvent(
        id=head.last_event_id + 1,
        at=clock.utcnow(),
        actor=(actor_name or principal_name)[:100],
        actor_role=role,
        address=actor.address[:64] if actor.address else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:200],
        outcome=outcome,
        detail=canonical_json(detail or {}),
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = event_hash(event)
    event.mac = key.mac(head.last_mac, event.hash)
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    head.last_mac = event.mac
    if not head.key_id:
        head.key_id = key.key_id
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
class Anchor:
    """What a signed checkpoint says the log held: its first ``event_count`` events, the last
    of them with MAC ``head_mac``. ``label`` names the checkpoint in messages."""

    event_count: int
    head_mac: str
    label: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problem: ChainProblem | None
    # The verifier's key is not the one the log is written with: nothing could be checked.
    wrong_key: str | None = None
    anchors_checked: int = 0
    # Checkpoint events found on the way (store key -> evidence id), for the checkpoint search.
    checkpoint_events: dict[str, int] = field(default_factory=dict)
    purged_evidence: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.wrong_key is None


def verify_chain(session: Session, key: ChainKey | None = None, anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Walk the chain from the first event and check every hash and MAC, then the head, then each
    anchor (checkpoint); report the first bad event."""
    key = key or keys.for_session(session)
    head = repository.chain_head(session)
    if head.key_id and head.key_id != key.key_id:
        return ChainReport(
            0,
            None,
            wrong_key=(
                f"the audit log is written with key id {head.key_id}, the key given ({key.source}) has key id "
                f"{key.key_id}: check AUDIT_PORTAL_SECRET_KEY / AUDIT_PORTAL_AUDIT_KEY_FILE (if the key is right, "
                "the key id in audit_chain_head was changed)"
            ),
        )
    anchors = sorted(anchors, key=lambda anchor: anchor.event_count)
    wanted = {anchor.event_count for anchor in anchors}
    macs_at: dict[int, str | None] = {}
    checkpoint_events: dict[str, int] = {}
    purged: set[str] = set()
    checked = 0
    expected_prev = GENESIS_HASH
    expected_mac = GENESIS_MAC
    expected_id = 1
    problem: ChainProblem | None = None
    for event in repository.events_in_order(session):
        problem = _check_event(event, expected_id, expected_prev, expected_mac, key)
        if problem:
            break
        checked += 1
        if event.id in wanted:
            macs_at[event.id] = event.mac
        _note_checkpoint_traces(event, checkpoint_events, purged)
        expected_prev = event.hash
        expected_mac = event.mac or ""
        expected_id = event.id + 1
    if problem is None and (
        head.last_event_id != expected_id - 1 or head.last_hash != expected_prev or head.last_mac != expected_mac
    ):
        problem = ChainProblem(
            expected_id,
            f"missing: the chain head records event {head.last_event_id}, "
            f"the log ends at event {expected_id - 1} (events were deleted, or the head was changed)",
        )
    anchor_problem = _check_anchors(anchors, macs_at, checked)
    if anchor_problem and (problem is None or anchor_problem.event_id < problem.event_id):
        problem = anchor_problem
    return ChainReport(
        checked, problem, anchors_checked=len(anchors), checkpoint_events=checkpoint_events, purged_evidence=purged
    )


def _check_event(
    event: AuditEvent, expected_id: int, expected_prev: str, expected_mac: str, key: ChainKey
) -> ChainProblem | None:
    if event.id != expected_id:
        return ChainProblem(expected_id, f"missing (the next event present is {event.id})")
    if event.prev_hash != expected_prev:
        return ChainProblem(event.id, "previous-hash does not match the event before it")
    if event_hash(event) != event.hash:
        return ChainProblem(event.id, "content does not match its hash (the row was changed)")
    if not event.mac:
        return ChainProblem(event.id, "has no MAC (it was removed, or the row was written without the key)")
    if key.mac(expected_mac, event.hash) != event.mac:
        return ChainProblem(
            event.id,
            "MAC does not verify: the row was changed and its hashes recomputed, moved out of order, "
            "or written without the key",
        )
    return None


def _check_anchors(anchors: list[Anchor], macs_at: dict[int, str | None], checked: int) -> ChainProblem | None:
    """The first checkpoint the log disagrees with. Only events that passed the walk are known in
    ``macs_at``; a checkpoint beyond them says events it counted are gone."""
    for anchor in anchors:
        if anchor.event_count > checked:
            return ChainProblem(
                checked + 1,
                f"missing: {anchor.label} counted {anchor.event_count} events, the intact log has {checked} "
                "(the newest events were deleted and the head moved back, or the chain broke before)",
            )
        elif macs_at.get(anchor.event_count) != anchor.head_mac:
            return ChainProblem(
                anchor.event_count,
                f"differs from {anchor.label}: its MAC is not the one signed then, so an event up to this one "
                "was rewritten by someone holding the audit key",
            )
    return None


def _note_checkpoint_traces(event: AuditEvent, checkpoint_events: dict[str, int], purged: set[str]) -> None:
    if event.action == CHECKPOINT_ACTION:
        try:
            detail = json.loads(event.detail)
        except ValueError:
            return
        if isinstance(detail, dict) and isinstance(detail.get("store_key"), str):
            checkpoint_events[detail["store_key"]] = int(event.object_id or 0)
    elif event.action == "evidence.purge":
        purged.add(event.object_id)


CHECKPOINT_ACTION = "audit.checkpoint"


# The CSV's column headers: English by default, as scripts reading the export expect; a reader
# downloading it gets them in their language. The values are the record as it was written.
EXPORT_COLUMNS = (
    N_("id"),
    N_("at"),
    N_("actor"),
    N_("role"),
    N_("address"),
    N_("action"),
    N_("object_type"),
    N_("object_id"),
    N_("outcome"),
    N_("detail"),
    N_("hash"),
)


def export_rows(events: Iterator[AuditEvent], language: str = DEFAULT_LANGUAGE) -> Iterator[list[str]]:
    say = Wording(language).gettext
    yield [say(column) for column in EXPORT_COLUMNS]
    for event in events:
        yield [
            str(event.id),
            event.at.isoformat(timespec="seconds"),
            event.actor,
            event.actor_role,
            event.address or "",
            event.action,
            event.object_type,
            event.object_id,
            event.outcome,
            event.detail,
            event.hash,
        ]
