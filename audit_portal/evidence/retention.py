"""Retention: evidence past its ``retention_until`` date is deleted, unless on legal hold.

Evidence may hold personal data, so it is not kept forever (docs/evidence.md, "Retention and legal hold"). A purge
deletes the expired records, and every row that points at them, in one transaction, and records
each deletion as an audit event. Rows that merely mention an item (a finding raised on it, a
correction that superseded it) keep their own content and lose the reference. The objects go
after the commit, and only when no remaining record shares them: a record must never outlive its
object, while an object left behind is an orphan that ``store reconcile`` removes. An object
under the store's own retention (S3 Object Lock) stays until the store allows its deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.evidence import repository
from audit_portal.evidence.models import Evidence
from audit_portal.principals import Actor
from evidence_store import ObjectStore

PURGE_ACTOR = Actor.system("retention-purge")


@dataclass(frozen=True)
class PurgedItem:
    evidence_id: int
    title: str
    store_key: str
    retention_until: date


@dataclass(frozen=True)
class ObjectOutcome:
    key: str
    deleted: bool
    reason: str = ""


def expired(session: Session, today: date) -> list[Evidence]:
    """Items whose retention ended before ``today`` and that are not on legal hold."""
    return repository.expired_evidence(session, today)


def purge_records(session: Session, *, today: date, dry_run: bool = False) -> list[PurgedItem]:
    """Delete the expired records (not their objects); with ``dry_run`` only list them."""
    items = expired(session, today)
    purged = [PurgedItem(e.id, e.title, e.store_key, e.retention_until) for e in items if e.id and e.retention_until]
    if dry_run or not purged:
        return purged
    repository.delete_evidence_and_references(session, [item.evidence_id for item in purged])
    for item in purged:
        record_event(
            session,
            actor=PURGE_ACTOR,
            action="evidence.purge",
            object_type="evidence",
            object_id=item.evidence_id,
            detail={
                "title": item.title,
                "store_key": item.store_key,
                "retention_until": item.retention_until.isoformat(),
            },
        )
    session.flush()
    return purged


def delete_unshared_objects(session: Session, store: ObjectStore, keys: set[str]) -> list[ObjectOutcome]:
    """After the purge committed: delete each object no remaining record uses and no upload in
    flight has marked pending (an upload of the same bytes may be re-using it right now), each
    in its own short transaction under the key's lock."""
    from audit_portal import clock
    from audit_portal.evidence.service import PENDING_GRACE, remove_unused_object

    outcomes = []
    for key in sorted(keys):
        why_not = remove_unused_object(
            session,
            store,
            key,
            pending_cutoff=clock.utcnow() - PENDING_GRACE,
            actor=PURGE_ACTOR,
            action="store.object-removed",
            detail={"reason": "retention purge"},
        )
        outcomes.append(ObjectOutcome(key, not why_not, _REASONS.get(why_not, why_not)))
    return outcomes


_REASONS = {
    "referenced": "shared with a record that is kept",
    "pending": "an upload of the same bytes is using it",
    "gone": "already gone",
}
