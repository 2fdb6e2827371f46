"""The rules of evidence: ingesting a file, showing it, listing it, and reconciling the store.

Ingest order is what makes evidence safe to rely on:

1. the metadata is checked (period, links, the item it supersedes) before any byte is read, so
   wrong metadata changes nothing;
2. the first bytes are sniffed before they reach the store, so a refused type leaves nothing;
3. the stream goes to the store in chunks while it is hashed; the size limit is enforced while
   streaming; the store verifies the object before it becomes visible;
4. once the hash is known, and before the object is created or an existing one re-used, a
   *pending-object* row names the key (under the key's lock, see
   :func:`repository.lock_store_key`), committed at once when the caller gives a checkpoint;
5. only then is the record written and the pending row deleted, in one transaction.

If step 5 fails the object stays behind as an orphan: deleting it here could race with another
upload of the same bytes that is about to commit a record sharing the object. ``reconcile``
deletes an object only under the key's lock and only when no record references it and no
pending row names it, so an upload that re-uses an orphan is never left with a record whose
object is gone. A record never exists without its object; identical bytes give two records
sharing one object. If the store held a damaged copy, the upload re-writes it (the store hashes
what it holds before re-using it) and every record of the object is marked intact again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from audit_portal import clock
from audit_portal.audit import repository as audit_repository
from audit_portal.audit.models import AuditEvent
from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue
from audit_portal.catalogue.models import Control, Requirement
from audit_portal.collection import repository as collection_repository
from audit_portal.collection.signoffs import SignoffState, signoff_grace
from audit_portal.engagements import scope
from audit_portal.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from audit_portal.evidence import repository
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, INTEGRITY_OK, SOURCE_UPLOAD, Evidence
from audit_portal.evidence.schemas import (
    SOURCE_FILTERS,
    EvidenceMeta,
    EvidencePublic,
    EvidenceSource,
)
from audit_portal.evidence.sniffing import HEAD_BYTES, CleanName, Sniffed, clean_filename, sniff
from audit_portal.i18n import N_, Sentences
from audit_portal.portal import service as portal_settings
from audit_portal.principals import Actor, Principal
from audit_portal.search import Search
from evidence_store import (
    EmptyObject,
    Leftover,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    ObjectTooLarge,
    StoredObject,
    StoreUnavailable,
    key_for,
)
from evidence_store.base import DigestHook, Readable, sha256_of_object

if TYPE_CHECKING:
    from audit_portal.requests.models import EvidenceRequest

ALLOW_EXECUTABLES_SETTING = "evidence.allow_executables"
CERTIFICATION_CYCLE_END_SETTING = "certification_cycle_end"
DEFAULT_CYCLE_YEARS = 3
ANNEX2 = "annex2"


# --- metadata and links ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedLinks:
    requirements: list[Requirement]
    controls: list[Control]

    @property
    def requirement_ids(self) -> list[int]:
        return [r.id for r in self.requirements if r.id is not None]

    @property
    def control_ids(self) -> list[int]:
        return [c.id for c in self.controls if c.id is not None]

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.controls


def parse_control_name(name: str) -> tuple[str, str]:
    """``iso27001-2022:8.8`` -> (framework, ref); a bare ``OPS-2`` names an Annex 2 measure."""
    framework, separator, ref = name.partition(":")
    if not separator:
        return ANNEX2, name.strip()
    return framework.strip(), ref.strip()


def resolve_links(session: Session, meta: EvidenceMeta) -> ResolvedLinks:
    """The requirements and controls the metadata names; 422 naming every unknown one."""
    requirements = catalogue.requirements_by_key(session, meta.requirements)
    wanted_controls = {name: parse_control_name(name) for name in meta.controls}
    controls = catalogue.controls_by_refs(session, wanted_controls.values())
    unknown = [
        {"location": "metadata.requirements", "message": N_("unknown requirement '%(key)s'"), "values": {"key": key}}
        for key in meta.requirements
        if key not in requirements
    ] + [
        {"location": "metadata.controls", "message": N_("unknown control '%(name)s'"), "values": {"name": name}}
        for name, ref in wanted_controls.items()
        if ref not in controls
    ]
    if unknown:
        named = [("requirement", key) for key in meta.requirements if key not in requirements] + [
            ("control", name) for name, ref in wanted_controls.items() if ref not in controls
        ]
        names = Sentences(
            (
                {
                    "message": N_("requirement '%(name)s'") if kind == "requirement" else N_("control '%(name)s'"),
                    "values": {"name": name},
                }
                for kind, name in named
            ),
            ", ",
        )
        raise InvalidInput(
            N_("The metadata names what the catalogue does not know: %(names)s."),
            values={"names": names},
            errors=unknown,
        )
    return ResolvedLinks(
        requirements=[requirements[key] for key in meta.requirements],
        controls=[controls[ref] for ref in wanted_controls.values()],
    )


def _check_period(meta: EvidenceMeta) -> None:
    if meta.period_from and meta.period_to and meta.period_to < meta.period_from:
        raise InvalidInput(
            N_("The period ends (%(end)s) before it starts (%(start)s)."),
            values={"end": meta.period_to, "start": meta.period_from},
            errors=[{"location": "metadata.period_to", "message": N_("ends before period_from")}],
        )
    if meta.collected_at is not None and clock.as_utc(meta.collected_at) > clock.utcnow() + timedelta(minutes=5):
        raise InvalidInput(N_("collected_at lies in the future."))


def _superseded_item(session: Session, meta: EvidenceMeta, source: EvidenceSource) -> Evidence | None:
    if meta.supersedes is None:
        return None
    old = repository.get_evidence(session, meta.supersedes)
    if old is None:
        raise InvalidInput(
            N_("Evidence %(id)s does not exist, so it cannot be superseded."), values={"id": meta.supersedes}
        )
    if old.superseded_at is not None:
        newer = repository.successor_of(session, old.id)
        if newer is not None:
            raise Conflict(
                N_("Evidence %(id)s is already superseded by evidence %(newer)s; supersede that one instead."),
                values={"id": old.id, "newer": newer.id},
            )
        raise Conflict(N_("Evidence %(id)s is already superseded."), values={"id": old.id})
    if source.kind != SOURCE_UPLOAD and old.collector_instance != source.collector_instance:
        raise InvalidInput(
            N_("Evidence %(id)s was not produced by %(instance)s; it may not be superseded from there."),
            values={"id": old.id, "instance": source.collector_instance},
        )
    return old


@dataclass(frozen=True)
class CheckedMeta:
    meta: EvidenceMeta
    links: ResolvedLinks
    supersedes: Evidence | None


def check_meta(session: Session, meta: EvidenceMeta, source: EvidenceSource) -> CheckedMeta:
    """Every check that needs no file bytes; run before the upload is read."""
    _check_period(meta)
    _check_run(session, source)
    links = resolve_links(session, meta)
    return CheckedMeta(meta, links, _superseded_item(session, meta, source))


def _check_run(session: Session, source: EvidenceSource) -> None:
    """A pushed item may name a collector run only of the instance it is pushed for, so a token
    scoped to one instance cannot attach evidence to another instance's run."""
    if source.collector_run_id is None:
        return
    run = collection_repository.get_run(session, source.collector_run_id)
    if run is None or run.instance_name != source.collector_instance:
        raise InvalidInput(
            N_("Collector run %(run)s is not a run of '%(instance)s'."),
            values={"run": source.collector_run_id, "instance": source.collector_instance},
            errors=[{"location": "metadata.collector_run_id", "message": N_("not a run of this instance")}],
        )


# --- reading the stream ---------------------------------------------------------------------


class ExecutableRefused(InvalidInput):
    def __init__(self, sniffed: Sniffed, filename: str) -> None:
        super().__init__(
            N_(
                "'%(filename)s' is a program or script (%(type)s); evidence may not be executable unless an "
                "administrator allows it."
            ),
            values={"filename": filename, "type": sniffed.content_type},
            errors=[
                {
                    "location": "file",
                    "message": N_("executable type %(type)s"),
                    "values": {"type": sniffed.content_type},
                }
            ],
        )


class SniffingReader:
    """Passes a stream through after judging its first bytes.

    The first read collects up to :data:`HEAD_BYTES` and refuses an executable before those
    bytes are handed on, so a refused file never reaches the store.
    """

    def __init__(self, stream: Readable, filename: str, *, allow_executables: bool) -> None:
        self._stream = stream
        self._filename = filename
        self._allow_executables = allow_executables
        self._pending = b""
        self.sniffed: Sniffed | None = None

    def read(self, size: int = -1, /) -> bytes:
        if self.sniffed is None:
            self._sniff()
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        return self._stream.read(size)

    def _sniff(self) -> None:
        head = bytearray()
        while len(head) < HEAD_BYTES:
            chunk = self._stream.read(HEAD_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        self.sniffed = sniff(bytes(head), self._filename)
        if self.sniffed.executable and not self._allow_executables:
            raise ExecutableRefused(self.sniffed, self._filename)
        self._pending = bytes(head)


def _put(store: ObjectStore, reader: SniffingReader, max_bytes: int, on_digest: DigestHook) -> StoredObject:
    try:
        return store.put(reader, max_bytes=max_bytes, on_digest=on_digest)
    except EmptyObject:
        raise InvalidInput(
            N_("The file is empty; evidence needs content."),
            errors=[{"location": "file", "message": N_("empty file")}],
        ) from None
    except ObjectTooLarge:
        raise PayloadTooLarge(
            N_("The file is larger than the limit of %(bytes)s bytes (MAX_UPLOAD_BYTES)."), values={"bytes": max_bytes}
        ) from None
    except StoreUnavailable as error:
        raise StoreNotWritable(str(error)) from error


class StoreNotWritable(ServiceUnavailable):
    def __init__(self, reason: str) -> None:
        super().__init__(
            N_(
                "The evidence store cannot take files right now (%(reason)s); nothing was recorded. "
                "Try again later, and tell an administrator if it persists."
            ),
            values={"reason": reason},
        )


class PendingObjects:
    """Step 4 of the ingest order: the pending row, written under the key's lock.

    ``checkpoint`` ends the caller's transaction right after the row is written, so the row is
    visible to ``reconcile`` in other processes and the lock is not held while the store works.
    Without a checkpoint (a collector run, the CLI) the row and the lock last until the caller
    commits the record, which is just as safe.
    """

    def __init__(self, session: Session, checkpoint: Callable[[], None] | None) -> None:
        self._session = session
        self._checkpoint = checkpoint
        self.pending_id: int | None = None

    def __call__(self, sha256: str) -> None:
        key = key_for(sha256)
        if self._checkpoint is not None:
            # A transaction that began with reads holds an old snapshot; the write below must
            # start a fresh one (on SQLite a stale snapshot cannot wait for the write lock).
            self._checkpoint()
        repository.lock_store_key(self._session, key)
        self.pending_id = repository.add_pending(self._session, key, clock.utcnow())
        if self._checkpoint is not None:
            self._checkpoint()

    def settle(self) -> None:
        """In the record's transaction: the record now holds the object."""
        if self.pending_id is not None:
            repository.delete_pending(self._session, self.pending_id)


# --- ingest ---------------------------------------------------------------------------------


INGEST_ACTOR = Actor.system("ingest")  # system work that stores evidence: a collector run, a checkpoint


def ingest(
    session: Session,
    store: ObjectStore,
    *,
    stream: Readable,
    filename: str | None,
    meta: EvidenceMeta,
    source: EvidenceSource,
    max_bytes: int,
    actor: Actor = INGEST_ACTOR,
    checked: CheckedMeta | None = None,
    retention_years: int | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> Evidence:
    """Store one file and record it as evidence; see the module docstring for the order.

    ``stream`` is anything with ``read(n)``. ``checked`` is the result of :func:`check_meta`
    when the caller ran it already (the HTTP layer does, before the file part arrives).
    ``retention_years`` overrides the RETENTION_YEARS_AFTER_CYCLE setting read from the
    environment (the app passes its own settings). ``checkpoint`` commits the caller's
    transaction (see :class:`PendingObjects`); the HTTP layer passes one. ``actor`` is who
    uploads; system work (a collector run, a checkpoint) is recorded under the source's name.
    """
    name = clean_filename(filename)
    checked = checked or check_meta(session, meta, source)
    reader = SniffingReader(stream, name.name, allow_executables=executables_allowed(session))
    retention = retention_until(
        session,
        clock.as_utc(meta.collected_at) if meta.collected_at else clock.utcnow(),
        years_after_cycle=retention_years,
    )
    pending = PendingObjects(session, checkpoint)
    stored = _put(store, reader, max_bytes, pending)
    assert reader.sniffed is not None
    pending.settle()
    evidence = _record(session, stored, reader.sniffed, name, checked, source, retention, actor)
    if stored.repaired:
        mark_repaired(session, stored.sha256, actor=actor)
    return evidence


def executables_allowed(session: Session) -> bool:
    return portal_settings.get_flag(session, ALLOW_EXECUTABLES_SETTING)


def _record(
    session: Session,
    stored: StoredObject,
    sniffed: Sniffed,
    name: CleanName,
    checked: CheckedMeta,
    source: EvidenceSource,
    retention: date,
    actor: Actor,
) -> Evidence:
    meta = checked.meta
    if source.collector_run_id is not None:
        # a sealed push: the artifact must be the one its manifest names, byte for byte
        from audit_portal.collection.sealed import check_artifact

        check_artifact(session, source.collector_run_id, meta.artifact_kind, stored.sha256, stored.size)
    now = clock.utcnow()
    collected_at = clock.as_utc(meta.collected_at) if meta.collected_at else now
    links = checked.links
    requirement_ids, control_ids = links.requirement_ids, links.control_ids
    old = _lock_superseded(session, checked.supersedes)
    if old is not None and links.empty:
        # A correction without links of its own proves what the item it replaces proved.
        requirement_ids, control_ids = repository.link_ids_of(session, old.id)
    evidence = Evidence(
        title=meta.title,
        description=meta.description or None,
        source_kind=source.kind,
        uploaded_by_id=source.user_id,
        token_id=source.token_id,
        collector_instance=source.collector_instance,
        collector_run_id=source.collector_run_id,
        artifact_kind=meta.artifact_kind,
        collected_at=collected_at,
        period_from=meta.period_from,
        period_to=meta.period_to,
        valid_until=meta.valid_until,
        original_filename=name.name,
        submitted_filename=name.submitted,
        content_type=sniffed.content_type,
        size=stored.size,
        sha256=stored.sha256,
        store_key=stored.key,
        retention_until=retention,
        legal_hold=False,
        supersedes_id=old.id if old else None,
        created_at=now,
    )
    repository.add_evidence(session, evidence, requirement_ids=requirement_ids, control_ids=control_ids)
    if old is not None:
        old.superseded_at = now
        session.flush()
    record_event(
        session,
        actor=actor,
        action="evidence.upload",
        object_type="evidence",
        object_id=str(evidence.id),
        actor_name=_source_actor(source) if actor.is_system else None,
        detail={
            "sha256": stored.sha256,
            "size": stored.size,
            "filename": name.name,
            "content_type": sniffed.content_type,
            "supersedes": evidence.supersedes_id,
            **({"requirements": sorted(meta.requirements)} if meta.requirements else {}),
            **({"submitted_filename": name.submitted} if name.submitted else {}),
        },
    )
    return evidence


def _lock_superseded(session: Session, old: Evidence | None) -> Evidence | None:
    if old is None:
        return None
    locked = repository.get_evidence_for_update(session, old.id)
    if locked is None or locked.superseded_at is not None:
        raise Conflict(
            N_("Evidence %(id)s was superseded while this upload ran; supersede the newer item."), values={"id": old.id}
        )
    return locked


def _source_actor(source: EvidenceSource) -> str:
    return f"collector:{source.collector_instance}" if source.collector_instance else source.kind


def retention_until(session: Session, collected_at: datetime, *, years_after_cycle: int | None = None) -> date:
    """End of the certification cycle the evidence serves, plus ``years_after_cycle`` years
    (default: the RETENTION_YEARS_AFTER_CYCLE setting).

    The cycle end is the portal setting ``certification_cycle_end`` (ISO date) when it lies after
    the evidence; otherwise the evidence is taken to serve a cycle of three years from its date.
    """
    if years_after_cycle is None:
        from audit_portal.config import get_settings

        years_after_cycle = get_settings().retention_years_after_cycle
    configured = portal_settings.get_value(session, CERTIFICATION_CYCLE_END_SETTING)
    cycle_end = _add_years(collected_at.date(), DEFAULT_CYCLE_YEARS)
    if configured:
        try:
            configured_end = date.fromisoformat(configured.strip())
        except ValueError:
            configured_end = None
        if configured_end is not None and configured_end >= collected_at.date():
            cycle_end = configured_end
    return _add_years(cycle_end, years_after_cycle)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


# --- reading --------------------------------------------------------------------------------

Window = tuple[datetime, datetime]


def visible_windows(session: Session, principal: Principal | None) -> list[Window] | None:
    """What a reader may see: ``None`` for everything; for an external auditor, only evidence
    collected within the periods of the engagements they are assigned to (the portal holds
    personal data, and the auditor's access is for their audit)."""
    return scope.scope_of(session, principal).windows


def get(session: Session, evidence_id: int, principal: Principal | None = None) -> Evidence:
    """One item; an item outside what ``principal`` may see answers as if it did not exist."""
    evidence = repository.get_evidence(session, evidence_id)
    windows = visible_windows(session, principal)
    if evidence is None or (
        windows is not None and not any(start <= evidence.collected_at < end for start, end in windows)
    ):
        raise NotFound(N_("There is no evidence %(id)s."), values={"id": evidence_id})
    return evidence


def requirement_name(requirement: Requirement) -> str:
    return requirement.key


def control_name(control: Control) -> str:
    return f"{control.framework_key}:{control.ref}"


@dataclass
class EvidenceView:
    evidence: Evidence
    uploaded_by: str | None
    requirements: list[Requirement]
    controls: list[Control]
    requirement_controls: dict[int, Control]
    older: list[Evidence]  # what this item superseded, nearest first
    newer: list[Evidence]  # what superseded this item, nearest first
    events: list[AuditEvent] = field(default_factory=list)
    signoff: SignoffState | None = None  # the review sign-off, for a requirement that needs one
    remark: str = ""  # what the person who signed off wrote


def set_legal_hold(session: Session, evidence_id: int, *, hold: bool, actor: Actor) -> Evidence:
    """A legal hold keeps an item past its retention date; each change is an audit event."""
    principal = actor.principal
    evidence = get(session, evidence_id, principal)
    if evidence.legal_hold != hold:
        evidence.legal_hold = hold
        session.flush()
        record_event(
            session,
            actor=actor,
            action="evidence.legal-hold",
            object_type="evidence",
            object_id=evidence_id,
            detail={"legal_hold": hold},
        )
    return evidence


def view(
    session: Session, evidence_id: int, *, principal: Principal | None = None, with_events: bool = False
) -> EvidenceView:
    evidence = get(session, evidence_id, principal)
    assert evidence.id is not None
    requirements = requirement_links(session, [evidence.id])[evidence.id]
    names = auth_repository.usernames(session, [evidence.uploaded_by_id] if evidence.uploaded_by_id else [])
    signoff, remark = _signoff(session, evidence, requirements)
    return EvidenceView(
        evidence=evidence,
        uploaded_by=names.get(evidence.uploaded_by_id) if evidence.uploaded_by_id else None,
        requirements=requirements,
        controls=control_links(session, [evidence.id])[evidence.id],
        requirement_controls=catalogue.controls_of_requirements(session, [r.id for r in requirements if r.id]),
        older=_older(session, evidence),
        newer=_newer(session, evidence),
        events=list(
            audit_repository.evidence_events(session, evidence.id, auditors=scope.fellow_auditors(session, principal))
        )
        if with_events
        else [],
        signoff=signoff,
        remark=remark,
    )


def _signoff(session: Session, evidence: Evidence, requirements: list[Requirement]) -> tuple[SignoffState | None, str]:
    """Who signed the item's review off and when, judged against its requirement's grace from
    the moment it was collected (the run that produced it)."""
    grace = signoff_grace(requirements)
    row = repository.signoffs_of(session, [evidence.id]).get(evidence.id) if grace is not None else None
    if row is None or grace is None:
        return None, ""
    signer = auth_repository.usernames(session, [row.signed_by_id]).get(row.signed_by_id, "?")
    return SignoffState(signer, row.signed_at, evidence.collected_at, grace), row.remark


def _older(session: Session, evidence: Evidence, limit: int = 50) -> list[Evidence]:
    chain: list[Evidence] = []
    current = evidence
    while current.supersedes_id is not None and len(chain) < limit:
        previous = repository.get_evidence(session, current.supersedes_id)
        if previous is None:
            break
        chain.append(previous)
        current = previous
    return chain


def _newer(session: Session, evidence: Evidence, limit: int = 50) -> list[Evidence]:
    chain: list[Evidence] = []
    current = evidence
    while len(chain) < limit:
        following = repository.successor_of(session, current.id)
        if following is None:
            break
        chain.append(following)
        current = following
    return chain


def record_access(session: Session, *, evidence: Evidence, action: str, actor: Actor) -> None:
    """An audit event for a view, preview or download, whoever the reader is."""
    record_event(
        session,
        actor=actor,
        action=action,
        object_type="evidence",
        object_id=str(evidence.id),
        detail={"sha256": evidence.sha256},
    )


def record_listing(session: Session, *, actor: Actor, filters: ListFilters) -> None:
    """An auditor's look at the evidence list is an access too (every access by an auditor is
    recorded); other roles' list views are not, as they would drown the log."""
    principal = actor.principal
    if not scope.is_scoped(principal):
        return
    defaults = asdict(ListFilters())
    shown = {
        name: str(value) for name, value in asdict(filters).items() if value != defaults[name] and name != "cursor"
    }
    scope.record_access(
        session,
        actor=actor,
        action="evidence.list",
        object_type="evidence",
        object_id="",
        detail=shown,
    )


def requirement_links(session: Session, evidence_ids: list[int]) -> dict[int, list[Requirement]]:
    """The requirements each item is linked to, by key."""
    linked = repository.requirement_ids_linked(session, evidence_ids)
    found = catalogue.requirements_by_ids(session, {i for ids in linked.values() for i in ids})
    return {
        evidence_id: sorted((found[i] for i in ids if i in found), key=lambda r: r.key)
        for evidence_id, ids in linked.items()
    }


def control_links(session: Session, evidence_ids: list[int]) -> dict[int, list[Control]]:
    """The controls each item is linked to directly, in catalogue order."""
    linked = repository.control_ids_linked(session, evidence_ids)
    found = catalogue.controls_by_ids(session, {i for ids in linked.values() for i in ids})
    return {
        evidence_id: sorted((found[i] for i in ids if i in found), key=lambda c: (c.framework_key, c.position))
        for evidence_id, ids in linked.items()
    }


def to_public(session: Session, items: list[Evidence]) -> list[EvidencePublic]:
    ids = [item.id for item in items if item.id is not None]
    requirements = requirement_links(session, ids)
    controls = control_links(session, ids)
    names = auth_repository.usernames(session, [item.uploaded_by_id for item in items if item.uploaded_by_id])
    successors = {
        item.id: repository.successor_of(session, item.id) for item in items if item.superseded_at is not None
    }
    return [
        EvidencePublic(
            id=item.id,
            title=item.title,
            description=item.description,
            source_kind=item.source_kind,
            uploaded_by=names.get(item.uploaded_by_id) if item.uploaded_by_id else None,
            collector_instance=item.collector_instance,
            collector_run_id=item.collector_run_id,
            artifact_kind=item.artifact_kind,
            collected_at=item.collected_at,
            period_from=item.period_from,
            period_to=item.period_to,
            valid_until=item.valid_until,
            original_filename=item.original_filename,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            retention_until=item.retention_until,
            legal_hold=item.legal_hold,
            supersedes_id=item.supersedes_id,
            superseded_by_id=(successor.id if (successor := successors.get(item.id)) else None),
            superseded_at=item.superseded_at,
            created_at=item.created_at,
            requirements=[requirement_name(r) for r in requirements.get(item.id, [])],
            controls=[control_name(c) for c in controls.get(item.id, [])],
            download_url=f"/evidence/{item.id}/download",
        )
        for item in items
    ]


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListFilters:
    """The list's filters as a person or script gives them (strings from a query string)."""

    control: str = ""  # "framework:ref", or a measure id
    measure: str = ""  # an Annex 2 measure id, e.g. "OPS-2"
    requirement: str = ""
    source: str = ""  # upload | api | collector, or a collector instance name
    period_from: date | None = None
    period_to: date | None = None
    content_type: str = ""
    include_superseded: bool = True
    cursor: str = ""
    limit: int = 50
    q: str = ""  # words of the title, description or file name, or the item's number


@dataclass(frozen=True)
class EvidenceListPage:
    items: list[Evidence]
    next_cursor: str | None


MAX_PAGE_SIZE = 200


def list_page(session: Session, filters: ListFilters, principal: Principal | None = None) -> EvidenceListPage:
    query = replace(_list_query(session, filters), visible=visible_windows(session, principal))
    rows = repository.list_evidence(session, query)
    has_more = len(rows) > query.limit - 1
    items = rows[: query.limit - 1]
    next_cursor = encode_cursor(items[-1]) if has_more and items else None
    return EvidenceListPage(items, next_cursor)


def _list_query(session: Session, filters: ListFilters) -> repository.ListQuery:
    if filters.period_from and filters.period_to and filters.period_to < filters.period_from:
        raise InvalidInput(N_("The period filter ends before it starts."))
    if not 1 <= filters.limit <= MAX_PAGE_SIZE:
        raise InvalidInput(N_("limit must be between 1 and %(most)s."), values={"most": MAX_PAGE_SIZE})
    control_ids: set[int] = set()
    for name in (filters.control, filters.measure):
        if name:
            control_ids |= _control_filter(session, name)
    requirement_id = None
    if filters.requirement:
        found = catalogue.requirements_by_key(session, [filters.requirement]).get(filters.requirement)
        if found is None:
            raise InvalidInput(N_("Unknown requirement '%(key)s'."), values={"key": filters.requirement})
        requirement_id = found.id
    source_kind, instance = _source_filter(filters.source)
    return repository.ListQuery(
        control_ids=frozenset(control_ids),
        control_requirement_ids=frozenset(catalogue.requirement_ids_of_controls(session, control_ids)),
        requirement_id=requirement_id,
        source_kind=source_kind,
        collector_instance=instance,
        period_from=filters.period_from,
        period_to=filters.period_to,
        content_type=filters.content_type or None,
        include_superseded=filters.include_superseded,
        search=Search.parse(filters.q),
        after=decode_cursor(filters.cursor) if filters.cursor else None,
        # One row more than shown tells whether another page follows.
        limit=filters.limit + 1,
    )


def _control_filter(session: Session, name: str) -> set[int]:
    framework, ref = parse_control_name(name)
    control = catalogue.control_by_ref(session, framework, ref)
    if control is None or control.id is None:
        raise InvalidInput(N_("Unknown control '%(name)s'."), values={"name": name})
    return catalogue.controls_mapped_onto(session, control.id)


def _source_filter(source: str) -> tuple[str | None, str | None]:
    if not source:
        return None, None
    if source in SOURCE_FILTERS:
        return source, None
    return None, source


def encode_cursor(evidence: Evidence) -> str:
    raw = f"{clock.as_utc(evidence.collected_at).isoformat()}|{evidence.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, identifier = raw.partition("|")
        return clock.as_utc(datetime.fromisoformat(moment)), int(identifier)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(N_("The page cursor is not valid; start again from the first page.")) from None


# --- link targets for the upload form -------------------------------------------------------


@dataclass(frozen=True)
class LinkTarget:
    value: str  # what goes into the metadata: a requirement key or "framework:ref"
    kind: str
    label: str


def search_link_targets(session: Session, text: str, limit: int = 30) -> list[LinkTarget]:
    search = Search.parse(text)
    if search is None or len(search.text) < 2:
        return []
    targets = [
        LinkTarget(r.key, "requirement", r.title) for r in catalogue.search_requirements(session, search, limit=limit)
    ]
    targets += [
        LinkTarget(control_name(c), "measure" if c.framework_key == ANNEX2 else "control", c.title)
        for c in catalogue.search_controls(session, search, limit=limit)
    ]
    return targets[:limit]


def links_of_request(session: Session, evidence_request: EvidenceRequest) -> list[str]:
    """What an evidence request asks about, as link names for the upload form."""
    if evidence_request.requirement_id is not None:
        requirement = catalogue.get_requirement(session, evidence_request.requirement_id)
        return [requirement.key] if requirement else []
    if evidence_request.control_id is not None:
        control = catalogue.controls_by_ids(session, [evidence_request.control_id]).get(evidence_request.control_id)
        return [control_name(control)] if control else []
    return []


def link_targets_named(session: Session, names: Iterable[str]) -> list[LinkTarget]:
    """The already chosen targets, to show them again after a refused upload."""
    chosen = list(dict.fromkeys(name for name in names if name))
    requirements = catalogue.requirements_by_key(session, chosen)
    targets = []
    for name in chosen:
        if name in requirements:
            targets.append(LinkTarget(name, "requirement", requirements[name].title))
        else:
            framework, ref = parse_control_name(name)
            control = catalogue.control_by_ref(session, framework, ref)
            if control is not None:
                targets.append(LinkTarget(control_name(control), "control", control.title))
    return targets


# --- store reconciliation -------------------------------------------------------------------

CONTENT_PREFIX = "sha256/"
RECONCILE_ACTOR = Actor.system("store-reconcile")
PENDING_GRACE = timedelta(hours=24)
"""How long a pending row protects its object, whatever grace reconcile is given: an upload
in flight is never cut short, even by ``--grace-hours 0``."""
LEFTOVER_MIN_AGE = timedelta(hours=1)
"""A staging file or multipart upload younger than this may belong to a write in progress and is
never removed, whatever grace reconcile is given."""


@dataclass(frozen=True)
class OrphanObject:
    key: str
    size: int
    last_modified: datetime
    removable: bool  # older than the grace period
    removed: bool = False
    problem: str = ""


@dataclass(frozen=True)
class LeftoverReport:
    leftover: Leftover
    removable: bool
    removed: bool = False
    problem: str = ""


@dataclass(frozen=True)
class ReconcileReport:
    objects_checked: int
    records_checked: int
    orphans: list[OrphanObject]
    missing: list[tuple[str, list[int]]]  # store key, ids of the records that lack it
    leftovers: list[LeftoverReport] = field(default_factory=list)
    stale_pending: list[str] = field(default_factory=list)  # keys of abandoned pending rows
    pending: int = 0  # pending rows of uploads in flight (their objects are kept)

    @property
    def removed(self) -> list[OrphanObject]:
        return [orphan for orphan in self.orphans if orphan.removed]


def reconcile(
    session: Session,
    store: ObjectStore,
    *,
    remove: bool = False,
    grace: timedelta = timedelta(hours=24),
    now: datetime | None = None,
    batch_size: int = 500,
) -> ReconcileReport:
    """Compare the store with the records.

    Orphans (objects no record uses, left by an upload whose record was never committed) are
    reported, and with ``remove`` deleted once older than ``grace``. Each deletion is its own
    short transaction (committed here, so uploads wait for at most one deletion): under the
    key's lock it asks again whether a record references the object or an upload has marked it
    pending, and only then deletes it (see the module docstring). Pending rows older than
    ``PENDING_GRACE`` (or ``grace``, if longer) belong to uploads that died; they are reported
    and, with ``remove``, dropped.
    Leftovers of interrupted writes (staging files, incomplete multipart uploads) are listed, and
    removed once older than ``grace`` and at least :data:`LEFTOVER_MIN_AGE`. Records whose object is missing are reported;
    they are never changed here, since that needs a person to look.
    """
    now = now or clock.utcnow()
    cutoff = now - grace
    pending_cutoff = now - max(grace, PENDING_GRACE)
    stale = [row.store_key for row in repository.stale_pending(session, pending_cutoff)]
    if remove and stale:
        for row in repository.stale_pending(session, pending_cutoff):
            repository.delete_pending(session, row.id)
        session.commit()
    orphans: list[OrphanObject] = []
    checked = 0
    batch: list[str] = []
    for key in store.iter_keys(CONTENT_PREFIX):
        batch.append(key)
        if len(batch) == batch_size:
            orphans += _orphans_in(session, store, batch, remove=remove, cutoff=cutoff, pending_cutoff=pending_cutoff)
            checked += len(batch)
            batch = []
    if batch:
        orphans += _orphans_in(session, store, batch, remove=remove, cutoff=cutoff, pending_cutoff=pending_cutoff)
        checked += len(batch)
    missing: list[tuple[str, list[int]]] = []
    records = 0
    for key, evidence_ids in repository.iter_store_keys(session):
        records += len(evidence_ids)
        if not store.exists(key):
            missing.append((key, evidence_ids))
    leftovers = _leftovers(session, store, remove=remove, cutoff=min(cutoff, now - LEFTOVER_MIN_AGE))
    return ReconcileReport(checked, records, orphans, missing, leftovers, stale, repository.count_pending(session))


def _orphans_in(
    session: Session, store: ObjectStore, keys: list[str], *, remove: bool, cutoff: datetime, pending_cutoff: datetime
) -> list[OrphanObject]:
    referenced = repository.referenced_store_keys(session, keys)
    pending = repository.pending_since(session, keys, pending_cutoff)
    found = []
    for key in keys:
        if key in referenced or key in pending:
            continue
        try:
            info = store.stat(key)
        except ObjectNotFound:
            continue  # deleted since the listing (by another reconcile)
        old_enough = clock.as_utc(info.last_modified) <= cutoff
        orphan = OrphanObject(key, info.size, info.last_modified, removable=old_enough)
        if remove and old_enough:
            orphan = _remove_orphan(session, store, orphan, pending_cutoff)
        found.append(orphan)
    return found


def _remove_orphan(
    session: Session, store: ObjectStore, orphan: OrphanObject, pending_cutoff: datetime
) -> OrphanObject:
    outcome = remove_unused_object(
        session,
        store,
        orphan.key,
        pending_cutoff=pending_cutoff,
        actor=RECONCILE_ACTOR,
        action="store.orphan-removed",
        detail={"size": orphan.size, "last_modified": orphan.last_modified.isoformat()},
    )
    if outcome:
        return replace(orphan, removable=outcome != "referenced", problem=_PROBLEMS.get(outcome, outcome))
    return replace(orphan, removed=True)


_PROBLEMS = {
    "referenced": "now referenced by a record",
    "pending": "an upload is using it",
    "gone": "already gone",
}


def remove_unused_object(
    session: Session,
    store: ObjectStore,
    key: str,
    *,
    pending_cutoff: datetime,
    actor: Actor,
    action: str,
    detail: dict[str, object],
) -> str:
    """Delete the object under ``key`` unless a record or an upload in flight uses it, in one
    short transaction that holds the key's lock (committed here). '' when deleted, else why not:
    ``referenced``, ``pending``, ``gone``, or the store's retention message."""
    session.commit()  # start from a fresh transaction, see PendingObjects
    try:
        repository.lock_store_key(session, key)
        if repository.store_key_is_referenced(session, key):
            return "referenced"
        if repository.pending_since(session, [key], pending_cutoff):
            return "pending"
        try:
            store.delete(key)
        except ObjectRetained as error:
            return str(error)
        except ObjectNotFound:
            return "gone"
        record_event(
            session,
            actor=actor,
            action=action,
            object_type="object",
            object_id=key,
            detail=detail,
        )
    finally:
        session.commit()
    return ""


def _leftovers(session: Session, store: ObjectStore, *, remove: bool, cutoff: datetime) -> list[LeftoverReport]:
    reports = []
    for leftover in store.iter_leftovers():
        old_enough = clock.as_utc(leftover.started) <= cutoff
        report = LeftoverReport(leftover, removable=old_enough)
        if remove and old_enough:
            try:
                store.remove_leftover(leftover)
            except StoreUnavailable as error:
                report = replace(report, problem=str(error))
            else:
                session.commit()  # a fresh, short write transaction, see PendingObjects
                record_event(
                    session,
                    actor=RECONCILE_ACTOR,
                    action="store.leftover-removed",
                    object_type="object",
                    object_id=leftover.name[:255],
                    detail={"kind": leftover.kind, "size": leftover.size, "started": leftover.started.isoformat()},
                )
                session.commit()
                report = replace(report, removed=True)
        reports.append(report)
    return reports


# --- integrity: verification on read and the scrub ---------------------------------------

VERIFY_ACTOR = Actor.system("store-verify")


def mark_corrupted(
    session: Session,
    sha256: str,
    *,
    reason: str,
    actor: Actor = VERIFY_ACTOR,
) -> list[int]:
    """Every record of the object ``sha256`` is marked corrupted; one audit event per record
    that was not marked yet. The ids newly marked."""
    changed = repository.mark_integrity(session, sha256, INTEGRITY_CORRUPTED, clock.utcnow())
    for evidence_id in changed:
        record_event(
            session,
            actor=actor,
            action="evidence.corrupted",
            object_type="evidence",
            object_id=str(evidence_id),
            detail={"sha256": sha256, "reason": reason[:500]},
        )
    session.flush()
    return changed


def mark_repaired(session: Session, sha256: str, *, actor: Actor) -> list[int]:
    """An upload re-wrote the damaged object with bytes that hash to it: its records are intact."""
    changed = repository.mark_integrity(session, sha256, INTEGRITY_OK, clock.utcnow())
    for evidence_id in changed:
        record_event(
            session,
            actor=actor,
            action="evidence.repaired",
            object_type="evidence",
            object_id=str(evidence_id),
            detail={"sha256": sha256},
        )
    session.flush()
    return changed


@dataclass(frozen=True)
class CorruptedSummary:
    count: int
    items: list[Evidence]  # the first few, to link to


def corrupted_summary(session: Session, shown: int = 10) -> CorruptedSummary:
    """For the dashboard: how much evidence is corrupted, and the first items."""
    return CorruptedSummary(repository.count_corrupted(session), repository.corrupted_evidence(session, shown))


def corrupted_for_control(session: Session, control: Control, requirements: Iterable[Requirement]) -> list[Evidence]:
    """For a control's page: corrupted evidence linked to it or to its requirements."""
    return repository.corrupted_linked_to(
        session, [control.id] if control.id else [], [r.id for r in requirements if r.id is not None]
    )


@dataclass(frozen=True)
class VerifyProblem:
    store_key: str
    sha256: str
    problem: str  # "corrupted" or "missing"
    detail: str
    evidence_ids: list[int]


@dataclass(frozen=True)
class VerifyReport:
    objects_checked: int
    bytes_read: int
    problems: list[VerifyProblem]


def verify(session: Session, store: ObjectStore, *, sample: int | None = None) -> VerifyReport:
    """The scrub: re-hash stored objects (all, or a random ``sample``) and mark the records of
    any that no longer hash to their key as corrupted, an audit event each. Objects that hash
    right again (repaired meanwhile) have their records marked intact. Commits per object."""
    problems: list[VerifyProblem] = []
    checked = 0
    read = 0
    for key, sha256, _size in repository.objects_to_verify(session, sample=sample):
        checked += 1
        try:
            actual, size = sha256_of_object(store, key)
        except ObjectNotFound:
            ids = mark_corrupted(session, sha256, reason="the object is missing from the store")
            problems.append(VerifyProblem(key, sha256, "missing", "not in the store", ids))
            session.commit()
            continue
        read += size
        if actual != sha256:
            reason = f"the object hashes to {actual} ({size} bytes)"
            ids = mark_corrupted(session, sha256, reason=reason)
            problems.append(VerifyProblem(key, sha256, "corrupted", reason, ids))
        else:
            mark_repaired(session, sha256, actor=VERIFY_ACTOR)
        # One short transaction per object: a scrub of a large store never holds the database's
        # write lock while it reads the next object.
        session.commit()
    return VerifyReport(checked, read, problems)
