"""Evidence queries: records and their links, the list with keyset paging, what reconcile needs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col

import audit_portal.model_registry  # noqa: F401  (every table that may point at evidence, for the purge)
from audit_portal.evidence.models import (
    FACET_COLLECTOR_INSTANCE,
    FACET_CONTENT_TYPE,
    INTEGRITY_CORRUPTED,
    INTEGRITY_OK,
    Evidence,
    EvidenceControl,
    EvidenceFacet,
    EvidenceRequirement,
    EvidenceSignoff,
    PendingObject,
)
from audit_portal.search import Matches, Score, Search


def add_evidence(
    session: Session, evidence: Evidence, *, requirement_ids: Iterable[int], control_ids: Iterable[int]
) -> Evidence:
    session.add(evidence)
    session.flush()
    assert evidence.id is not None
    for requirement_id in sorted(set(requirement_ids)):
        session.add(EvidenceRequirement(evidence_id=evidence.id, requirement_id=requirement_id))
    for control_id in sorted(set(control_ids)):
        session.add(EvidenceControl(evidence_id=evidence.id, control_id=control_id))
    session.flush()
    _remember_facets(session, evidence)
    return evidence


def get_evidence(session: Session, evidence_id: int) -> Evidence | None:
    return session.get(Evidence, evidence_id)


def evidence_by_ids(session: Session, ids: Iterable[int]) -> dict[int, Evidence]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {e.id: e for e in session.scalars(select(Evidence).where(col(Evidence.id).in_(wanted)))}


def evidence_history(
    session: Session, requirement_ids: Iterable[int], start: datetime, end: datetime
) -> list[tuple[int, Evidence]]:
    """(requirement id, evidence) for every item linked to these requirements and collected in
    [start, end), newest first; superseded items included (the page marks them)."""
    ids = set(requirement_ids)
    if not ids:
        return []
    rows = session.execute(
        select(col(EvidenceRequirement.requirement_id), Evidence)
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(
            col(EvidenceRequirement.requirement_id).in_(ids),
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
    )
    return [(rid, evidence) for rid, evidence in rows]


def evidence_linked_to_control(
    session: Session, control_id: int, start: datetime, end: datetime, limit: int | None = None
) -> Sequence[Evidence]:
    return session.scalars(
        select(Evidence)
        .join(EvidenceControl, col(EvidenceControl.evidence_id) == col(Evidence.id))
        .where(
            col(EvidenceControl.control_id) == control_id,
            col(Evidence.collected_at) >= start,
            col(Evidence.collected_at) < end,
        )
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
        .limit(limit)
    ).all()


def get_evidence_for_update(session: Session, evidence_id: int) -> Evidence | None:
    """Locked (PostgreSQL) so two corrections of one item cannot both supersede it."""
    return session.scalars(select(Evidence).where(col(Evidence.id) == evidence_id).with_for_update()).first()


def successor_of(session: Session, evidence_id: int) -> Evidence | None:
    return session.scalars(
        select(Evidence).where(col(Evidence.supersedes_id) == evidence_id).order_by(col(Evidence.id))
    ).first()


def requirement_ids_linked(session: Session, evidence_ids: Iterable[int]) -> dict[int, list[int]]:
    """The requirements each item is linked to, by evidence id."""
    return _linked(session, EvidenceRequirement.evidence_id, EvidenceRequirement.requirement_id, evidence_ids)


def control_ids_linked(session: Session, evidence_ids: Iterable[int]) -> dict[int, list[int]]:
    """The controls each item is linked to directly, by evidence id."""
    return _linked(session, EvidenceControl.evidence_id, EvidenceControl.control_id, evidence_ids)


def _linked(
    session: Session, evidence_column: Any, target_column: Any, evidence_ids: Iterable[int]
) -> dict[int, list[int]]:
    ids = set(evidence_ids)
    links: dict[int, list[int]] = {evidence_id: [] for evidence_id in ids}
    if not ids:
        return links
    for evidence_id, target_id in session.execute(
        select(col(evidence_column), col(target_column)).where(col(evidence_column).in_(ids))
    ):
        links[evidence_id].append(target_id)
    return links


def requirement_links_of_items(
    session: Session, evidence_ids: Iterable[int], run_ids: Iterable[int]
) -> list[tuple[int, int | None, int]]:
    """(evidence id, collector run id, requirement id) of every requirement link of these items
    and of every item of these runs."""
    by_evidence, by_run = set(evidence_ids), set(run_ids)
    if not by_evidence and not by_run:
        return []
    rows = session.execute(
        select(col(Evidence.id), col(Evidence.collector_run_id), col(EvidenceRequirement.requirement_id))
        .join(EvidenceRequirement, col(EvidenceRequirement.evidence_id) == col(Evidence.id))
        .where(or_(col(Evidence.id).in_(by_evidence), col(Evidence.collector_run_id).in_(by_run)))
    )
    return [(evidence_id, run_id, requirement_id) for evidence_id, run_id, requirement_id in rows]


def link_ids_of(session: Session, evidence_id: int) -> tuple[list[int], list[int]]:
    requirement_ids = session.scalars(
        select(col(EvidenceRequirement.requirement_id)).where(col(EvidenceRequirement.evidence_id) == evidence_id)
    ).all()
    control_ids = session.scalars(
        select(col(EvidenceControl.control_id)).where(col(EvidenceControl.evidence_id) == evidence_id)
    ).all()
    return list(requirement_ids), list(control_ids)


def signoffs_of_runs(session: Session, run_ids: Iterable[int]) -> dict[int, tuple[datetime, int]]:
    """Run id -> (when, by whom) its evidence was signed off, for the runs whose evidence is;
    one query for a whole list of runs."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(
            col(Evidence.collector_run_id),
            func.max(col(EvidenceSignoff.signed_at)),
            func.max(col(EvidenceSignoff.signed_by_id)),
        )
        .join(EvidenceSignoff, col(EvidenceSignoff.evidence_id) == col(Evidence.id))
        .where(col(Evidence.collector_run_id).in_(ids))
        .group_by(col(Evidence.collector_run_id))
    )
    return {run_id: (signed_at, signed_by) for run_id, signed_at, signed_by in rows}


def evidence_of_run(session: Session, run_id: int) -> Sequence[Evidence]:
    return session.scalars(
        select(Evidence).where(col(Evidence.collector_run_id) == run_id).order_by(col(Evidence.id))
    ).all()


def normalised_evidence(session: Session, run_id: int) -> Evidence | None:
    return session.scalars(
        select(Evidence).where(col(Evidence.collector_run_id) == run_id, col(Evidence.artifact_kind) == "normalised")
    ).first()


def add_signoffs(session: Session, signoffs: Iterable[EvidenceSignoff]) -> None:
    for signoff in signoffs:
        session.add(signoff)
    session.flush()


def newest_evidence_of_requirements(session: Session, requirement_ids: Iterable[int]) -> dict[int, datetime]:
    """Requirement id -> newest collected_at of its live (not superseded) evidence."""
    ids = set(requirement_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(col(EvidenceRequirement.requirement_id), func.max(col(Evidence.collected_at)))
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(col(EvidenceRequirement.requirement_id).in_(ids), col(Evidence.superseded_at).is_(None))
        .group_by(col(EvidenceRequirement.requirement_id))
    )
    return {requirement_id: newest for requirement_id, newest in rows}


def signoffs_of(session: Session, evidence_ids: Iterable[int]) -> dict[int, EvidenceSignoff]:
    ids = sorted(set(evidence_ids))
    if not ids:
        return {}
    rows = session.scalars(select(EvidenceSignoff).where(col(EvidenceSignoff.evidence_id).in_(ids)))
    return {row.evidence_id: row for row in rows}


def store_key_is_referenced(session: Session, store_key: str) -> bool:
    return session.scalar(select(exists().where(col(Evidence.store_key) == store_key))) or False


def referenced_store_keys(session: Session, keys: Iterable[str]) -> set[str]:
    wanted = set(keys)
    if not wanted:
        return set()
    return set(session.scalars(select(col(Evidence.store_key)).where(col(Evidence.store_key).in_(wanted)).distinct()))


# --- pending objects and the per-key lock ----------------------------------------------------


def lock_store_key(session: Session, store_key: str) -> None:
    """Serialise, until the transaction ends, everything that creates, re-uses or deletes the
    object under ``store_key``: a pending row being written and reconcile deleting the object.

    PostgreSQL: a transaction-scoped advisory lock on the key's first 60 bits. SQLite: any write
    takes the database's single write lock, so a write that changes nothing is enough.
    """
    if session.get_bind().dialect.name == "postgresql":
        number = int(hashlib.sha256(store_key.encode()).hexdigest()[:15], 16)
        session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})
    else:
        session.execute(
            update(PendingObject)
            .where(col(PendingObject.store_key) == store_key, false())
            .values(store_key=col(PendingObject.store_key))
        )


def add_pending(session: Session, store_key: str, now: datetime) -> int:
    pending = PendingObject(store_key=store_key, created_at=now)
    session.add(pending)
    session.flush()
    assert pending.id is not None
    return pending.id


def delete_pending(session: Session, pending_id: int) -> None:
    session.execute(delete(PendingObject).where(col(PendingObject.id) == pending_id))


def pending_since(session: Session, keys: Iterable[str], cutoff: datetime) -> set[str]:
    """The keys among ``keys`` an upload marked pending after ``cutoff`` (i.e. is still using)."""
    wanted = set(keys)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(col(PendingObject.store_key)).where(
                col(PendingObject.store_key).in_(wanted), col(PendingObject.created_at) > cutoff
            )
        )
    )


def stale_pending(session: Session, cutoff: datetime) -> list[PendingObject]:
    """Pending rows of uploads that never finished (their process died or failed)."""
    return list(
        session.scalars(
            select(PendingObject).where(col(PendingObject.created_at) <= cutoff).order_by(col(PendingObject.id))
        )
    )


def count_pending(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PendingObject)) or 0


# --- integrity ---------------------------------------------------------------------------------


def mark_integrity(session: Session, sha256: str, status: str, checked_at: datetime) -> list[int]:
    """Set the integrity status of every record of the object ``sha256``; the ids changed."""
    changed = list(
        session.scalars(
            select(col(Evidence.id)).where(col(Evidence.sha256) == sha256, col(Evidence.integrity) != status)
        )
    )
    session.execute(
        update(Evidence).where(col(Evidence.sha256) == sha256).values(integrity=status, integrity_checked_at=checked_at)
    )
    return changed


def corrupted_evidence(session: Session, limit: int = 100) -> list[Evidence]:
    return list(
        session.scalars(
            select(Evidence)
            .where(col(Evidence.integrity) == INTEGRITY_CORRUPTED)
            .order_by(col(Evidence.id))
            .limit(limit)
        )
    )


def count_corrupted(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(Evidence).where(col(Evidence.integrity) == INTEGRITY_CORRUPTED))
        or 0
    )


def corrupted_linked_to(session: Session, control_ids: Iterable[int], requirement_ids: Iterable[int]) -> list[Evidence]:
    """Corrupted evidence linked to any of the controls or requirements."""
    controls, requirements = set(control_ids), set(requirement_ids)
    linked = (
        select(col(EvidenceControl.evidence_id))
        .where(col(EvidenceControl.control_id).in_(controls))
        .union(
            select(col(EvidenceRequirement.evidence_id)).where(
                col(EvidenceRequirement.requirement_id).in_(requirements)
            )
        )
    )
    return list(
        session.scalars(
            select(Evidence)
            .where(col(Evidence.integrity) == INTEGRITY_CORRUPTED, col(Evidence.id).in_(linked))
            .order_by(col(Evidence.id))
        )
    )


def corrupted_ids(session: Session, evidence_ids: Iterable[int]) -> set[int]:
    wanted = set(evidence_ids)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(col(Evidence.id)).where(col(Evidence.id).in_(wanted), col(Evidence.integrity) != INTEGRITY_OK)
        )
    )


def objects_to_verify(session: Session, *, sample: int | None) -> list[tuple[str, str, int]]:
    """(store key, sha256, size) of distinct objects; with ``sample``, that many chosen at random
    among them, least recently checked first being as likely as any."""
    query = select(col(Evidence.store_key), col(Evidence.sha256), func.max(col(Evidence.size))).group_by(
        col(Evidence.store_key), col(Evidence.sha256)
    )
    if sample is not None:
        query = query.order_by(func.random()).limit(sample)
    else:
        query = query.order_by(col(Evidence.store_key))
    return [(key, sha256, size) for key, sha256, size in session.execute(query)]


def iter_store_keys(session: Session, batch_size: int = 1000) -> Iterator[tuple[str, list[int]]]:
    """Every store key the records use, with the ids of the records using it, in key order."""
    last_key = ""
    while True:
        keys = session.scalars(
            select(col(Evidence.store_key))
            .where(col(Evidence.store_key) > last_key)
            .group_by(col(Evidence.store_key))
            .order_by(col(Evidence.store_key))
            .limit(batch_size)
        ).all()
        if not keys:
            return
        rows = session.execute(
            select(col(Evidence.store_key), col(Evidence.id))
            .where(col(Evidence.store_key).in_(keys))
            .order_by(col(Evidence.id))
        )
        ids_by_key: dict[str, list[int]] = {key: [] for key in keys}
        for key, evidence_id in rows:
            ids_by_key[key].append(evidence_id)
        yield from ids_by_key.items()
        last_key = keys[-1]


# --- the list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    control_ids: frozenset[int] = frozenset()  # one control (and what is mapped onto it)
    control_requirement_ids: frozenset[int] = frozenset()  # the requirements of those controls
    requirement_id: int | None = None
    source_kind: str | None = None
    collector_instance: str | None = None
    period_from: date | None = None
    period_to: date | None = None
    content_type: str | None = None
    include_superseded: bool = True
    after: tuple[datetime, int] | None = None  # keyset: (collected_at, id) of the last row seen
    limit: int = 50
    visible: list[tuple[datetime, datetime]] | None = None  # collected_at windows; None: all
    search: Search | None = None  # words in the title, description or file name, or the item's number


def list_evidence(session: Session, query: ListQuery) -> list[Evidence]:
    """Newest first by (collected_at, id); ``after`` continues below the last row seen, so a
    page costs the same however deep it is and rows added meanwhile do not shift it."""
    return list(session.scalars(list_statement(query)).all())


def list_statement(query: ListQuery) -> Select:
    statement = select(Evidence)
    for condition in _conditions(query):
        statement = statement.where(condition)
    if query.after is not None:
        collected_at, last_id = query.after
        # A row comparison, not ``a < x OR (a = x AND id < y)``: PostgreSQL turns it into one
        # index range on (collected_at, id); the OR form walks the index and filters every row.
        statement = statement.where(
            tuple_(col(Evidence.collected_at), col(Evidence.id)) < tuple_(collected_at, last_id)
        )
    return statement.order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc()).limit(query.limit)


def _conditions(query: ListQuery) -> list:
    conditions = []
    if query.control_ids:
        direct = select(col(EvidenceControl.evidence_id)).where(col(EvidenceControl.control_id).in_(query.control_ids))
        through_requirement = select(col(EvidenceRequirement.evidence_id)).where(
            col(EvidenceRequirement.requirement_id).in_(query.control_requirement_ids)
        )
        conditions.append(or_(col(Evidence.id).in_(direct), col(Evidence.id).in_(through_requirement)))
    if query.requirement_id is not None:
        conditions.append(
            col(Evidence.id).in_(
                select(col(EvidenceRequirement.evidence_id)).where(
                    col(EvidenceRequirement.requirement_id) == query.requirement_id
                )
            )
        )
    if query.source_kind:
        conditions.append(col(Evidence.source_kind) == query.source_kind)
    if query.collector_instance:
        conditions.append(col(Evidence.collector_instance) == query.collector_instance)
    # Period filters keep items whose covered period overlaps the asked one; an item without a
    # period counts as covering the day it was collected.
    if query.period_from is not None:
        conditions.append(
            or_(
                col(Evidence.period_to) >= query.period_from,
                and_(col(Evidence.period_to).is_(None), col(Evidence.collected_at) >= _start_of(query.period_from)),
            )
        )
    if query.period_to is not None:
        conditions.append(
            or_(
                col(Evidence.period_from) <= query.period_to,
                and_(
                    col(Evidence.period_from).is_(None),
                    col(Evidence.collected_at) < _start_of(query.period_to + timedelta(days=1)),
                ),
            )
        )
    if query.content_type:
        conditions.append(col(Evidence.content_type) == query.content_type)
    if not query.include_superseded:
        conditions.append(col(Evidence.superseded_at).is_(None))
    if query.search is not None:
        conditions.append(search_condition(query.search))
    if query.visible is not None:
        conditions.append(
            or_(
                false(),
                *(
                    and_(col(Evidence.collected_at) >= start, col(Evidence.collected_at) < end)
                    for start, end in query.visible
                ),
            )
        )
    return conditions


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def distinct_content_types(session: Session) -> list[str]:
    return _facet_values(session, FACET_CONTENT_TYPE)


def distinct_collector_instances(session: Session) -> list[str]:
    return _facet_values(session, FACET_COLLECTOR_INSTANCE)


def _facet_values(session: Session, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(col(EvidenceFacet.value)).where(col(EvidenceFacet.kind) == kind).order_by(col(EvidenceFacet.value))
        )
    )


def _remember_facets(session: Session, evidence: Evidence) -> None:
    """Adds the item's filter values; ON CONFLICT DO NOTHING, so concurrent uploads of the same
    content type do not fail each other on the primary key."""
    values = [{"kind": FACET_CONTENT_TYPE, "value": evidence.content_type}]
    if evidence.collector_instance:
        values.append({"kind": FACET_COLLECTOR_INSTANCE, "value": evidence.collector_instance})
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(EvidenceFacet).values(values).on_conflict_do_nothing())


def search_condition(search: Search):
    """The items a search finds: by its words, or by the number it names ("123" or "#123")."""
    number = search.evidence_number
    if number is None:
        return Matches("evidence", search)
    if search.number_only:
        return col(Evidence.id) == number
    return or_(Matches("evidence", search), col(Evidence.id) == number)


def newest_live(session: Session, limit: int = 20) -> list[Evidence]:
    """The newest items that no correction replaced (what an empty search offers)."""
    return list(
        session.scalars(
            select(Evidence)
            .where(col(Evidence.superseded_at).is_(None))
            .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
            .limit(limit)
        )
    )


def search_evidence(session: Session, search: Search, *, limit: int = 20, candidates: int = 200) -> list[Evidence]:
    """Live evidence the search finds by number, title, description or file name, best first.

    Ranking reads only the ``candidates`` newest matches (a common word can match most of a
    million items; the newest are the ones worth linking): the item the search names by number
    first, then by full-text rank, then newest first."""
    condition = search_condition(search)
    number = search.evidence_number
    newest = (
        select(col(Evidence.id))
        .where(col(Evidence.superseded_at).is_(None), condition)
        .order_by(col(Evidence.collected_at).desc(), col(Evidence.id).desc())
        .limit(candidates)
    )
    named = case((col(Evidence.id) == number, 0), else_=1) if number is not None else literal(1)
    return list(
        session.scalars(
            select(Evidence)
            .where(col(Evidence.id).in_(newest))
            .order_by(
                named,
                Score("evidence", search).desc().nulls_last(),
                col(Evidence.collected_at).desc(),
                col(Evidence.id).desc(),
            )
            .limit(limit)
        )
    )


def items_of_collector_instance(session: Session, instance: str) -> list[Evidence]:
    """Every item a collector instance (or a portal job named like one) brought in, oldest first."""
    return list(
        session.scalars(select(Evidence).where(col(Evidence.collector_instance) == instance).order_by(col(Evidence.id)))
    )


def newest_of_collector_instance(session: Session, instance: str) -> Evidence | None:
    return session.scalars(
        select(Evidence).where(col(Evidence.collector_instance) == instance).order_by(col(Evidence.id).desc()).limit(1)
    ).first()


def ids_collected_between(start: datetime, end: datetime) -> Select:
    """A SELECT of the ids (as text, as audit events name objects) of the items collected in
    [start, end), for another query to filter by."""
    return select(cast(col(Evidence.id), String)).where(
        col(Evidence.collected_at) >= start, col(Evidence.collected_at) < end
    )


# --- retention ---------------------------------------------------------------------------------


def expired_evidence(session: Session, today: date) -> list[Evidence]:
    """Items whose retention ended before ``today`` and that are not on legal hold."""
    return list(
        session.scalars(
            select(Evidence)
            .where(col(Evidence.retention_until) < today, col(Evidence.legal_hold).is_(False))
            .order_by(col(Evidence.id))
        )
    )


def delete_evidence_and_references(session: Session, evidence_ids: list[int]) -> None:
    """Delete these records and every row pointing at them. The foreign keys onto ``evidence`` are
    found in the metadata, so a new table cannot be forgotten: an optional reference is cleared,
    a required one (a link row) is deleted with the item."""
    for table in SQLModel.metadata.sorted_tables:
        for foreign_key in table.foreign_keys:
            if foreign_key.column.table.name != Evidence.__tablename__:
                continue
            column = foreign_key.parent
            if column.nullable:
                session.execute(update(table).where(column.in_(evidence_ids)).values({column.name: None}))
            else:
                session.execute(delete(table).where(column.in_(evidence_ids)))
    session.execute(delete(Evidence).where(col(Evidence.id).in_(evidence_ids)))
