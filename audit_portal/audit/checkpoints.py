"""Signed checkpoints of the audit log's head, kept in the evidence store as evidence.

The MAC chain stops anyone without the audit key from changing, reordering or inserting events,
but not from deleting the newest events and moving the head back: what remains is a valid chain.
A checkpoint anchors the head outside the database: a small JSON document with the event count,
the newest event's MAC and hash, the time and the key id, signed with the portal's Ed25519
signing key (the one that signs evidence packages, :mod:`audit_portal.export.signing`). It is
ingested as an evidence item of its own, so it is kept like other evidence and, on S3 with
Object Lock, cannot be deleted or overwritten before its retention ends.

``audit-portal audit verify`` finds the checkpoints through their evidence records, through the
``audit.checkpoint`` events in the chain (so a deleted record is still found) and, with
``--scan-store``, by reading every small object in the store (so checkpoints whose records and
events were both deleted are still found).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit import keys, repository
from audit_portal.audit.service import (
    CHECKPOINT_ACTION,
    Anchor,
    ChainReport,
    canonical_json,
    record_event,
    verify_chain,
)
from audit_portal.config import Settings
from audit_portal.errors import InvalidInput
from audit_portal.export.signing import fingerprint_of, signing_key
from audit_portal.i18n import N_
from audit_portal.principals import Actor
from evidence_store import ObjectNotFound, ObjectStore, StoreError

CHECKPOINT_SOURCE = "audit-checkpoint"  # the collector instance named on checkpoint evidence
FORMAT = "audit-portal audit-log checkpoint v1"
MAX_CHECKPOINT_BYTES = 4096
# The controls a checkpoint is evidence for: protection of log information.
LOG_CONTROLS = ("iso27001-2022:8.15", "iso27001-2013:A.12.4.2")
CHECKPOINT_ACTOR = Actor.system("checkpoint")
SIGNED_FIELDS = ("format", "created_at", "event_count", "head_mac", "head_hash", "key_id", "signing_key_fingerprint")


class CheckpointError(Exception):
    """An object is not a valid checkpoint; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    created_at: datetime
    event_count: int
    head_mac: str
    head_hash: str
    key_id: str
    signing_key_fingerprint: str
    store_key: str = ""
    evidence_id: int | None = None

    @property
    def label(self) -> str:
        where = f"evidence {self.evidence_id}" if self.evidence_id else self.store_key
        return f"the checkpoint of {self.created_at:%Y-%m-%d %H:%M:%S} UTC ({where})"

    def anchor(self) -> Anchor:
        return Anchor(self.event_count, self.head_mac, self.label)


def build_document(fields: dict[str, object], sign) -> bytes:
    """The checkpoint file: the signed fields and an Ed25519 signature over their canonical JSON."""
    signed = {name: fields[name] for name in SIGNED_FIELDS}
    document = {**signed, "signature": base64.b64encode(sign(canonical_json(signed).encode("utf-8"))).decode("ascii")}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def parse_document(content: bytes, public_key: Ed25519PublicKey, *, store_key: str = "") -> Checkpoint:
    try:
        document = json.loads(content)
    except ValueError:
        raise CheckpointError("not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError("not an audit-log checkpoint")
    try:
        signed = {name: document[name] for name in SIGNED_FIELDS}
        signature = base64.b64decode(document["signature"], validate=True)
    except (KeyError, ValueError, TypeError):
        raise CheckpointError("a field or the signature is missing or malformed") from None
    expected = fingerprint_of(public_key)
    if signed["signing_key_fingerprint"] != expected:
        raise CheckpointError(
            f"signed by the key with fingerprint {signed['signing_key_fingerprint']}, "
            f"the portal's signing key is {expected}"
        )
    try:
        public_key.verify(signature, canonical_json(signed).encode("utf-8"))
    except InvalidSignature:
        raise CheckpointError("the signature does not verify (the checkpoint was changed)") from None
    try:
        return Checkpoint(
            created_at=clock.as_utc(datetime.fromisoformat(signed["created_at"])),
            event_count=int(signed["event_count"]),
            head_mac=str(signed["head_mac"]),
            head_hash=str(signed["head_hash"]),
            key_id=str(signed["key_id"]),
            signing_key_fingerprint=str(signed["signing_key_fingerprint"]),
            store_key=store_key,
        )
    except (TypeError, ValueError):
        raise CheckpointError("a signed field has the wrong type") from None


def write_checkpoint(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    *,
    actor: Actor = CHECKPOINT_ACTOR,
) -> Checkpoint:
    """Sign the current head and keep it as evidence; the head stays locked until the
    transaction ends, so the checkpoint names exactly the events committed before it."""
    from audit_portal.evidence import service as evidence
    from audit_portal.evidence.models import SOURCE_COLLECTOR
    from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource

    key = keys.for_session(session)
    head = repository.lock_chain_head(session)
    if head.last_event_id == 0:
        raise InvalidInput(N_("The audit log is empty; there is no head to checkpoint yet."))
    signer = signing_key(settings)
    now = clock.utcnow()
    # What is signed is the head now: it moves on when the checkpoint's own events are written.
    event_count, head_mac, head_hash = head.last_event_id, head.last_mac, head.last_hash
    fields: dict[str, object] = {
        "format": FORMAT,
        "created_at": now.isoformat(timespec="seconds"),
        "event_count": event_count,
        "head_mac": head_mac,
        "head_hash": head_hash,
        "key_id": key.key_id,
        "signing_key_fingerprint": signer.fingerprint,
    }
    content = build_document(fields, signer.sign)
    meta = EvidenceMeta(
        title=f"Audit log checkpoint: {event_count} events",
        description=(
            f"Signed checkpoint of the portal's audit log at {now:%Y-%m-%d %H:%M} UTC: the first "
            f"{event_count} events, ending with MAC {head_mac}. 'audit-portal audit verify' "
            "checks the log against it."
        ),
        period_to=now.date(),
        controls=[target.value for target in evidence.link_targets_named(session, LOG_CONTROLS)],
    )
    item = evidence.ingest(
        session,
        store,
        stream=io.BytesIO(content),
        filename=f"audit-checkpoint-{event_count}.json",
        meta=meta,
        source=EvidenceSource(kind=SOURCE_COLLECTOR, collector_instance=CHECKPOINT_SOURCE),
        max_bytes=MAX_CHECKPOINT_BYTES,
        actor=actor,
        retention_years=settings.retention_years_after_cycle,
    )
    record_event(
        session,
        actor=actor,
        action=CHECKPOINT_ACTION,
        object_type="evidence",
        object_id=item.id,
        detail={
            "event_count": event_count,
            "head_mac": head_mac,
            "store_key": item.store_key,
            "sha256": item.sha256,
        },
    )
    return Checkpoint(
        created_at=now,
        event_count=event_count,
        head_mac=head_mac,
        head_hash=head_hash,
        key_id=key.key_id,
        signing_key_fingerprint=signer.fingerprint,
        store_key=item.store_key,
        evidence_id=item.id,
    )


def newest_checkpoint_item(session: Session):
    """The evidence item of the newest checkpoint, for the audit-log page (None before the first)."""
    from audit_portal.evidence import repository as evidence_repository

    return evidence_repository.newest_of_collector_instance(session, CHECKPOINT_SOURCE)


# --- verifying --------------------------------------------------------------------------------


@dataclass
class LogVerification:
    report: ChainReport
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # Checkpoints that could not be used: missing from the store, changed, signed by another key.
    checkpoint_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.checkpoint_problems


class _Finder:
    """Reads checkpoints from the store, each key once."""

    def __init__(self, store: ObjectStore, public_key: Ed25519PublicKey, audit_key_id: str) -> None:
        self.store = store
        self.public_key = public_key
        self.audit_key_id = audit_key_id
        self.seen: set[str] = set()
        self.found: list[Checkpoint] = []
        self.problems: list[str] = []

    def load(self, store_key: str, evidence_id: int | None, *, purged: set[str], must_exist: bool = True) -> None:
        if store_key in self.seen:
            return
        self.seen.add(store_key)
        name = f"checkpoint evidence {evidence_id} ({store_key})" if evidence_id else f"checkpoint {store_key}"
        try:
            with self.store.open(store_key) as handle:
                content = handle.read(MAX_CHECKPOINT_BYTES + 1)
        except ObjectNotFound:
            if must_exist and str(evidence_id) not in purged:
                self.problems.append(f"{name}: missing from the evidence store")
            return
        except StoreError as error:
            self.problems.append(f"{name}: cannot be read ({error})")
            return
        try:
            checkpoint = parse_document(content, self.public_key, store_key=store_key)
        except CheckpointError as error:
            if must_exist:
                self.problems.append(f"{name}: {error}")
            return
        if checkpoint.key_id != self.audit_key_id:
            self.problems.append(f"{name}: made with audit key id {checkpoint.key_id}, not {self.audit_key_id}")
            return
        self.found.append(Checkpoint(**{**checkpoint.__dict__, "evidence_id": evidence_id}))

    def scan(self) -> None:
        """Every object small enough to be a checkpoint, whatever the database says."""
        from audit_portal.evidence.service import CONTENT_PREFIX

        for store_key in self.store.iter_keys(CONTENT_PREFIX):
            if store_key in self.seen:
                continue
            if self.store.stat(store_key).size <= MAX_CHECKPOINT_BYTES:
                self.load(store_key, None, purged=set(), must_exist=False)


def verify_log(
    session: Session, store: ObjectStore, settings: Settings, *, scan_store: bool = False
) -> LogVerification:
    """Check the chain against the key and against every checkpoint that can be found."""
    from audit_portal.evidence import repository as evidence_repository

    key = keys.for_session(session)
    finder = _Finder(store, signing_key(settings).public_key, key.key_id)
    for item in evidence_repository.items_of_collector_instance(session, CHECKPOINT_SOURCE):
        finder.load(item.store_key, item.id, purged=set())
    if scan_store:
        finder.scan()
    report = verify_chain(session, key, [c.anchor() for c in finder.found])
    if report.wrong_key:
        return LogVerification(report)
    # Checkpoints named by events of the chain but no longer by a record: their records were
    # deleted. Read them and check again, so deleting the record does not hide the checkpoint.
    before = len(finder.found)
    for store_key, evidence_id in report.checkpoint_events.items():
        finder.load(store_key, evidence_id, purged=report.purged_evidence)
    if len(finder.found) != before:
        report = verify_chain(session, key, [c.anchor() for c in finder.found])
    return LogVerification(report, sorted(finder.found, key=lambda c: c.event_count), finder.problems)
