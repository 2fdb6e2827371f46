"""The queries behind coverage: a fixed handful for a whole framework, never one per control."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Table,
    and_,
    any_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from audit_portal.catalogue.models import (
    KIND_CONTROL,
    MAPS_TO,
    SUCCESSOR,
    Control,
    ControlMapping,
    Requirement,
    RequirementSwitchOff,
)
from audit_portal.clock import as_utc
from audit_portal.coverage.models import CoverageRejection, CoverageRollup
from audit_portal.db import table_of
from audit_portal.engagements.models import REVIEW_REJECTED, EvidenceReview
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence, EvidenceRequirement, EvidenceSignoff
from audit_portal.findings.models import FAILING_SEVERITIES, OPEN_STATUSES, Finding
from audit_portal.soa.models import SoaEntry


class RequirementLink(NamedTuple):
    control_id: int
    requirement: Requirement
    via_measure: str | None  # the Annex 2 measure that brings the requirement, if any
    switched_off: RequirementSwitchOff | None = None  # the organisation's decision that it does not apply


class NewestEvidence(NamedTuple):
    requirement_id: int
    newest_at: datetime
    evidence_count: int


class EvidenceItem(NamedTuple):
    requirement_id: int
    evidence_id: int
    collector_run_id: int | None
    signed_off: bool


def framework_keys(session: Session) -> list[str]:
    return list(session.scalars(select(col(Control.framework_key)).distinct()))


def framework_controls(session: Session, framework_key: str, kind: str = KIND_CONTROL) -> Sequence[Control]:
    return session.scalars(
        select(Control)
        .where(
            col(Control.framework_key) == framework_key, col(Control.retired_at).is_(None), col(Control.kind) == kind
        )
        .order_by(col(Control.position))
    ).all()


def soa_exclusions_2022(session: Session) -> set[int]:
    """Ids of 2022 controls the Statement of Applicability excludes."""
    return set(session.scalars(select(col(SoaEntry.control_id)).where(col(SoaEntry.applicable).is_(False))))


def successors_of(session: Session, control_ids: Iterable[int]) -> dict[int, set[int]]:
    rows = session.execute(
        select(col(ControlMapping.source_id), col(ControlMapping.target_id)).where(
            col(ControlMapping.kind) == SUCCESSOR, col(ControlMapping.source_id).in_(set(control_ids))
        )
    )
    result: dict[int, set[int]] = {}
    for source_id, target_id in rows:
        result.setdefault(source_id, set()).add(target_id)
    return result


def requirement_links(session: Session, framework_key: str) -> list[RequirementLink]:
    """A control's own requirements plus those of every measure mapped to it, in one query."""
    target = table_of(Control).alias("target")
    measure = table_of(Control).alias("measure")
    own: Select[Any, Any, Any] = (
        select(
            col(Requirement.control_id).label("control_id"),
            col(Requirement.id).label("requirement_id"),
            literal(None).label("via_measure"),
        )
        .join(target, target.c.id == col(Requirement.control_id))
        .where(target.c.framework_key == framework_key, col(Requirement.retired_at).is_(None))
    )
    mapped = (
        select(
            col(ControlMapping.target_id).label("control_id"),
            col(Requirement.id).label("requirement_id"),
            measure.c.ref.label("via_measure"),
        )
        .join(measure, measure.c.id == col(ControlMapping.source_id))
        .join(target, target.c.id == col(ControlMapping.target_id))
        .join(Requirement, col(Requirement.control_id) == col(ControlMapping.source_id))
        .where(
            col(ControlMapping.kind) == MAPS_TO,
            target.c.framework_key == framework_key,
            col(Requirement.retired_at).is_(None),
            measure.c.retired_at.is_(None),
        )
    )
    links = session.execute(union_all(own, mapped)).all()
    requirements = {
        r.id: r
        for r in session.scalars(
            select(Requirement).where(col(Requirement.id).in_({link.requirement_id for link in links}))
        )
    }
    switched_off = switch_offs(session, set(requirements))
    return [
        RequirementLink(
            link.control_id, requirements[link.requirement_id], link.via_measure, switched_off.get(link.requirement_id)
        )
        for link in links
    ]


def switch_offs(session: Session, requirement_ids: set[int]) -> dict[int, RequirementSwitchOff]:
    """The organisation's switch-offs of these requirements, by requirement id."""
    if not requirement_ids:
        return {}
    return {
        row.requirement_id: row
        for row in session.scalars(
            select(RequirementSwitchOff).where(
                _one_of(session, col(RequirementSwitchOff.requirement_id), requirement_ids)
            )
        )
    }


def counting_links():
    """Every link of evidence to a requirement that can count for coverage at all, with what the
    period, the supersession rule and the rollup need. The one place that says which evidence
    counts: the from-scratch computation and the rollup (its cells and its rebuild) both start
    here, so a change to what counts is made once and reaches both. Corrupted evidence never
    counts: a stored file that no longer matches its hash proves nothing until the original is
    uploaded again."""
    return (
        select(
            col(EvidenceRequirement.requirement_id),
            col(Evidence.id),
            col(Evidence.collected_at),
            col(Evidence.superseded_at),
            col(Evidence.collector_run_id),
        )
        .join(EvidenceRequirement, col(EvidenceRequirement.evidence_id) == col(Evidence.id))
        .where(col(Evidence.integrity) != INTEGRITY_CORRUPTED)
    )


def _counting_evidence(start: datetime, end: datetime, engagement_id: int | None):
    """Evidence links that count: collected in [start, end), not superseded by then and not
    rejected in the engagement (on top of :func:`counting_links`). The period range is the only selective
    condition, so the planner drives the query from the collected_at index; requirements are
    picked afterwards."""
    conditions = [
        col(Evidence.collected_at) >= start,
        col(Evidence.collected_at) < end,
        or_(col(Evidence.superseded_at).is_(None), col(Evidence.superseded_at) >= end),
    ]
    query = counting_links()
    if engagement_id is not None:
        query = query.outerjoin(
            EvidenceReview,
            and_(
                col(EvidenceReview.evidence_id) == col(Evidence.id), col(EvidenceReview.engagement_id) == engagement_id
            ),
        )
        conditions.append(or_(col(EvidenceReview.status).is_(None), col(EvidenceReview.status) != REVIEW_REJECTED))
    return query.where(*conditions)


def newest_evidence(
    session: Session, requirement_ids: set[int], start: datetime, end: datetime, engagement_id: int | None
) -> dict[int, NewestEvidence]:
    counting = _counting_evidence(start, end, engagement_id).subquery()
    rows = session.execute(
        select(counting.c.requirement_id, func.max(counting.c.collected_at), func.count()).group_by(
            counting.c.requirement_id
        )
    )
    return {rid: NewestEvidence(rid, newest, count) for rid, newest, count in rows if rid in requirement_ids}


def newest_items(
    session: Session, newest: dict[int, NewestEvidence], start: datetime, end: datetime, engagement_id: int | None
) -> list[EvidenceItem]:
    """The evidence items that are the newest of their requirement (ties all kept), with their
    sign-off state: a lookup by the newest dates already found."""
    if not newest:
        return []
    wanted = {(n.requirement_id, n.newest_at) for n in newest.values()}
    counting = (
        _counting_evidence(start, end, engagement_id)
        .where(_one_of(session, col(Evidence.collected_at), {n.newest_at for n in newest.values()}))
        .subquery()
    )
    rows = session.execute(
        select(
            counting.c.requirement_id,
            counting.c.id,
            counting.c.collected_at,
            counting.c.collector_run_id,
            col(EvidenceSignoff.evidence_id),
        ).outerjoin(EvidenceSignoff, col(EvidenceSignoff.evidence_id) == counting.c.id)
    )
    return [
        EvidenceItem(rid, eid, run_id, signed is not None)
        for rid, eid, collected_at, run_id, signed in rows
        if (rid, collected_at) in wanted
    ]


class FailingFinding(NamedTuple):
    id: int
    evidence_id: int | None
    last_run_id: int | None


def failing_findings(session: Session, evidence_ids: set[int], run_ids: set[int]) -> list[FailingFinding]:
    """Open findings of high severity or above raised on these evidence items or runs: the ids
    coverage matches them by, not whole findings."""
    if not evidence_ids and not run_ids:
        return []
    rows = session.execute(
        select(col(Finding.id), col(Finding.evidence_id), col(Finding.last_run_id)).where(
            col(Finding.status).in_(OPEN_STATUSES),
            col(Finding.severity).in_(FAILING_SEVERITIES),
            or_(
                _one_of(session, col(Finding.evidence_id), evidence_ids),
                _one_of(session, col(Finding.last_run_id), run_ids),
            ),
        )
    )
    return [FailingFinding(*row) for row in rows]


# --- the rollup ------------------------------------------------------------------------------


class RollupTotal(NamedTuple):
    requirement_id: int
    newest_at: datetime
    evidence_count: int


def rollup_totals(
    session: OrmSession, requirement_ids: Collection[int], first_day: date, last_day: date
) -> dict[int, RollupTotal]:
    """Per requirement, the newest collection time and the number of links that count in the
    days [first_day, last_day] (not superseded by the end of last_day), from the rollup, in one
    statement: for the links not superseded, the running counts of the last cell on or before
    last_day and of the last one before first_day (two index probes per requirement), and the
    cells of the period whose links were superseded after last_day."""
    if not requirement_ids:
        return {}
    day_before = first_day - timedelta(days=1)
    wanted = _requirements(session, requirement_ids)
    not_superseded = select(
        wanted.c.value,
        _last_running_cell(wanted, col(CoverageRollup.newest_at), last_day),
        _last_running_cell(wanted, col(CoverageRollup.running_count), last_day),
        _last_running_cell(wanted, col(CoverageRollup.running_count), day_before),
    )
    in_period = and_(col(CoverageRollup.collected_on) >= first_day, col(CoverageRollup.collected_on) <= last_day)
    # Only the supersession day is a condition (the period is a CASE, cells outside it count 0, and
    # the cells are summed below), so both planners read the few cells superseded after last_day
    # from their partial index: with the period's range as a condition, or a GROUP BY, SQLite
    # scanned a year of every requirement's cells (35 ms at 1,000,000 items).
    superseded_later = select(
        col(CoverageRollup.requirement_id),
        col(CoverageRollup.newest_at),
        case((in_period, col(CoverageRollup.evidence_count)), else_=0),
        literal(0),
    ).where(col(CoverageRollup.superseded_on).is_not(None), col(CoverageRollup.superseded_on) > last_day)
    totals: dict[int, RollupTotal] = {}
    for rid, newest, running_then, running_before in session.execute(union_all(not_superseded, superseded_later)):
        count = (running_then or 0) - (running_before or 0)
        if count <= 0 or rid not in requirement_ids:
            continue
        newest = as_utc(newest)
        known = totals.get(rid)
        if known is not None:
            count, newest = known.evidence_count + count, max(known.newest_at, newest)
        totals[rid] = RollupTotal(rid, newest, count)
    return totals


def _requirements(bind: OrmSession | Connection, requirement_ids: Collection[int]) -> Any:
    """These requirement ids as a table with one column, ``value``, from one bound parameter (an
    array on PostgreSQL, a JSON list on SQLite): the catalogue is not read, and the statement
    compiles once, whatever the ids (a VALUES list of 300 rows took 13 ms to compile each time)."""
    ids = sorted(requirement_ids)
    if _dialect(bind) == "postgresql":
        return func.unnest(literal(ids, ARRAY(Integer))).table_valued("value").render_derived()
    return func.json_each(literal(json.dumps(ids))).table_valued("value")


def _one_of(bind: OrmSession | Connection, column: Any, values: Collection[Any]) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY`` of one array parameter, so the statement's
    text is the same whatever the values: it compiles once, and psycopg prepares it on the server.
    An IN list renders one parameter per value on every request (the coverage of a framework
    passes about 150), which cost more Python than the queries took in the database."""
    if _dialect(bind) == "postgresql":
        return column == any_(literal(sorted(values), ARRAY(column.type)))
    return column.in_(values)


def _dialect(bind: OrmSession | Connection) -> str:
    engine = bind.get_bind() if isinstance(bind, OrmSession) else bind
    return engine.dialect.name


def _last_running_cell(wanted: Any, column: Any, day: date) -> Any:
    """``column`` of each wanted requirement's last cell not superseded collected on or before
    ``day``: one probe of the (requirement, day) index per requirement."""
    return (
        select(column)
        .where(
            col(CoverageRollup.requirement_id) == wanted.c.value,
            col(CoverageRollup.superseded_on).is_(None),
            col(CoverageRollup.collected_on) <= day,
        )
        .order_by(col(CoverageRollup.collected_on).desc())
        .limit(1)
        .scalar_subquery()
    )


def rejected_totals(
    session: OrmSession, engagement_id: int, first_day: date, last_day: date
) -> dict[int, tuple[int, datetime]]:
    """Per requirement, the engagement's rejected links that would count in the days
    [first_day, last_day] and the newest collection time among them: a range of its cells,
    summed by the database."""
    rows = session.execute(
        select(
            col(CoverageRejection.requirement_id),
            func.sum(col(CoverageRejection.evidence_count)),
            func.max(col(CoverageRejection.newest_at)),
        )
        .where(*_rejected_in(engagement_id, first_day, last_day))
        .group_by(col(CoverageRejection.requirement_id))
    )
    return {rid: (int(count), as_utc(newest)) for rid, count, newest in rows}


def rejected_per_day(
    session: OrmSession, engagement_id: int, requirement_ids: Collection[int], first_day: date, last_day: date
) -> dict[tuple[int, date], int]:
    """Per (requirement, day of collection), the engagement's rejected links of these requirements
    that would count in the days [first_day, last_day]."""
    rows = session.execute(
        select(
            col(CoverageRejection.requirement_id),
            col(CoverageRejection.collected_on),
            func.sum(col(CoverageRejection.evidence_count)),
        )
        .where(
            col(CoverageRejection.requirement_id).in_(set(requirement_ids)),
            *_rejected_in(engagement_id, first_day, last_day),
        )
        .group_by(col(CoverageRejection.requirement_id), col(CoverageRejection.collected_on))
    )
    return {(rid, day): int(count) for rid, day, count in rows}


def _rejected_in(engagement_id: int, first_day: date, last_day: date) -> tuple[Any, ...]:
    return (
        col(CoverageRejection.engagement_id) == engagement_id,
        col(CoverageRejection.collected_on) >= first_day,
        col(CoverageRejection.collected_on) <= last_day,
        or_(col(CoverageRejection.superseded_on).is_(None), col(CoverageRejection.superseded_on) > last_day),
    )


def newest_counting_at(
    session: OrmSession, requirement_ids: set[int], start: datetime, end: datetime, engagement_id: int | None
) -> dict[int, datetime]:
    """The newest collection time of these requirements' counting evidence, in one statement that
    reads only their links (the requirements whose newest item the engagement rejected)."""
    if not requirement_ids:
        return {}
    counting = (
        _counting_evidence(start, end, engagement_id)
        .where(col(EvidenceRequirement.requirement_id).in_(requirement_ids))
        .subquery()
    )
    rows = session.execute(
        select(counting.c.requirement_id, func.max(counting.c.collected_at)).group_by(counting.c.requirement_id)
    )
    return {rid: as_utc(newest) for rid, newest in rows}


def counting_cells(
    session: OrmSession, requirement_ids: Collection[int], first_day: date, last_day: date
) -> dict[tuple[int, date], int]:
    """Per (requirement, day of collection) in [first_day, last_day], the links that count on
    last_day (not superseded by its end), from the rollup."""
    rows = session.execute(
        select(
            col(CoverageRollup.requirement_id),
            col(CoverageRollup.collected_on),
            func.sum(col(CoverageRollup.evidence_count)),
        )
        .where(
            col(CoverageRollup.requirement_id).in_(set(requirement_ids)),
            col(CoverageRollup.collected_on) >= first_day,
            col(CoverageRollup.collected_on) <= last_day,
            or_(col(CoverageRollup.superseded_on).is_(None), col(CoverageRollup.superseded_on) > last_day),
        )
        .group_by(col(CoverageRollup.requirement_id), col(CoverageRollup.collected_on))
    )
    return {(rid, day): int(count) for rid, day, count in rows}


def newest_counting_on(
    session: OrmSession,
    days: Mapping[int, tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
    engagement_id: int | None,
) -> dict[int, datetime]:
    """The newest collection time of each requirement's counting evidence collected in its given
    [from, until) (one day): that day's links per requirement, whatever the history."""
    if not days:
        return {}
    counting = (
        _counting_evidence(start, end, engagement_id)
        .where(
            or_(
                *(
                    and_(
                        col(EvidenceRequirement.requirement_id) == requirement_id,
                        col(Evidence.collected_at) >= since,
                        col(Evidence.collected_at) < until,
                    )
                    for requirement_id, (since, until) in days.items()
                )
            )
        )
        .subquery()
    )
    rows = session.execute(
        select(counting.c.requirement_id, func.max(counting.c.collected_at)).group_by(counting.c.requirement_id)
    )
    return {rid: as_utc(newest) for rid, newest in rows}


def evidence_link_times(connection: Connection, evidence_ids: Collection[int]) -> set[tuple[int, datetime]]:
    """(requirement id, collected_at) of every link of these evidence items, as stored now."""
    if not evidence_ids:
        return set()
    rows = connection.execute(
        select(col(EvidenceRequirement.requirement_id), col(Evidence.collected_at))
        .join(Evidence, col(Evidence.id) == col(EvidenceRequirement.evidence_id))
        .where(col(EvidenceRequirement.evidence_id).in_(set(evidence_ids)))
    )
    return {(rid, as_utc(collected_at)) for rid, collected_at in rows}


def evidence_ids_where(connection: Connection, table: Table, whereclause) -> list[int]:
    """The evidence ids a statement on ``evidence`` or ``evidence_requirement`` would touch."""
    column = table.c.id if table.name == Evidence.__tablename__ else table.c.evidence_id
    query = select(column)
    if whereclause is not None:
        query = query.where(whereclause)
    return list(connection.scalars(query))


def links_collected_between(
    connection: Connection, start: datetime, end: datetime, requirement_ids: Collection[int]
) -> list[tuple[int, int, datetime, datetime | None]]:
    """(evidence id, requirement id, collected_at, superseded_at) of the counting links of these
    requirements collected in [start, end): what one day's cells are made of. The requirements
    are picked from the day's links here, not in the statement: with them in it, SQLite's planner
    read every link of those requirements for each day refreshed (a bulk write touching many
    days and requirements took minutes at 1,000,000 items); the day is the bound."""
    wanted = set(requirement_ids)
    rows = connection.execute(
        counting_links().where(col(Evidence.collected_at) >= start, col(Evidence.collected_at) < end)
    )
    return [
        (row.id, row.requirement_id, as_utc(row.collected_at), row.superseded_at and as_utc(row.superseded_at))
        for row in rows
        if row.requirement_id in wanted
    ]


def rejecting_engagements(connection: Connection, evidence_ids: Collection[int]) -> dict[int, list[int]]:
    """The engagements that rejected each of these evidence items. Looked up by the items' ids (a
    day's links): joined to the day's links instead, SQLite scanned every review (270 ms per
    write at 1,000,000 items)."""
    rejecting: dict[int, list[int]] = defaultdict(list)
    ids = sorted(set(evidence_ids))
    for first in range(0, len(ids), ID_BATCH):
        rows = connection.execute(
            select(col(EvidenceReview.evidence_id), col(EvidenceReview.engagement_id)).where(
                col(EvidenceReview.evidence_id).in_(ids[first : first + ID_BATCH]),
                col(EvidenceReview.status) == REVIEW_REJECTED,
            )
        )
        for evidence_id, engagement_id in rows:
            rejecting[evidence_id].append(engagement_id)
    return rejecting


ID_BATCH = 10_000  # ids per statement: far below both backends' parameter limits


def all_rejected_links(connection: Connection) -> Iterator[tuple[int, int, datetime, datetime | None]]:
    """Every counting link an engagement rejected, streamed: what a rebuild's rejection cells are
    made of."""
    query = _rejected(counting_links()).execution_options(yield_per=10_000)
    for row in connection.execute(query):
        yield (
            row.engagement_id,
            row.requirement_id,
            as_utc(row.collected_at),
            row.superseded_at and as_utc(row.superseded_at),
        )


def _rejected(links: Select[Any, Any, Any]) -> Select[Any, Any, Any]:
    return links.add_columns(col(EvidenceReview.engagement_id)).join(
        EvidenceReview,
        and_(col(EvidenceReview.evidence_id) == col(Evidence.id), col(EvidenceReview.status) == REVIEW_REJECTED),
    )


def all_counting_links(connection: Connection) -> Iterator[tuple[int, datetime, datetime | None]]:
    """Every counting link, streamed: what a rebuild is made of."""
    query = counting_links().execution_options(yield_per=10_000)
    for row in connection.execute(query):
        yield row.requirement_id, as_utc(row.collected_at), row.superseded_at and as_utc(row.superseded_at)


def replace_rollup_cells(
    connection: Connection, day: date, requirement_ids: Collection[int], cells: list[dict[str, object]]
) -> None:
    """Replace the cells of these requirements collected on ``day`` by ``cells``."""
    connection.execute(
        delete(CoverageRollup).where(
            col(CoverageRollup.collected_on) == day, col(CoverageRollup.requirement_id).in_(set(requirement_ids))
        )
    )
    if cells:
        connection.execute(insert(CoverageRollup), cells)


def replace_rejection_cells(
    connection: Connection, day: date, requirement_ids: Collection[int], cells: list[dict[str, object]]
) -> None:
    """Replace every engagement's rejection cells of these requirements collected on ``day``."""
    connection.execute(
        delete(CoverageRejection).where(
            col(CoverageRejection.collected_on) == day, col(CoverageRejection.requirement_id).in_(set(requirement_ids))
        )
    )
    if cells:
        connection.execute(insert(CoverageRejection), cells)


def not_superseded_counts(connection: Connection, day: date, requirement_ids: Collection[int]) -> dict[int, int]:
    """The links not superseded in these requirements' cells of ``day``, as the rollup holds them."""
    rows = connection.execute(
        select(col(CoverageRollup.requirement_id), col(CoverageRollup.evidence_count)).where(
            col(CoverageRollup.collected_on) == day,
            col(CoverageRollup.superseded_on).is_(None),
            col(CoverageRollup.requirement_id).in_(set(requirement_ids)),
        )
    )
    return {rid: count for rid, count in rows}


def running_counts(connection: Connection, requirement_ids: Collection[int], day: date) -> dict[int, int]:
    """Each requirement's running count of links not superseded up to ``day`` (absent: none)."""
    wanted = _requirements(connection, requirement_ids)
    rows = connection.execute(
        select(wanted.c.value, _last_running_cell(wanted, col(CoverageRollup.running_count), day))
    )
    return {rid: running for rid, running in rows if running is not None}


def shift_running_counts(connection: Connection, requirement_ids: Collection[int], day: date, change: int) -> None:
    """Add ``change`` to the running counts of these requirements' cells collected after ``day``."""
    connection.execute(
        update(CoverageRollup)
        .where(
            col(CoverageRollup.requirement_id).in_(set(requirement_ids)),
            col(CoverageRollup.superseded_on).is_(None),
            col(CoverageRollup.collected_on) > day,
        )
        .values(running_count=col(CoverageRollup.running_count) + change)
    )


def clear_rollup(connection: Connection) -> None:
    connection.execute(delete(CoverageRollup))
    connection.execute(delete(CoverageRejection))


def insert_rollup_cells(connection: Connection, cells: list[dict[str, object]]) -> None:
    if cells:
        connection.execute(insert(CoverageRollup), cells)


def insert_rejection_cells(connection: Connection, cells: list[dict[str, object]]) -> None:
    if cells:
        connection.execute(insert(CoverageRejection), cells)


def rollup_cells(session: Session) -> list[tuple[int, date, date | None, int, datetime, int | None]]:
    """Every cell, in a stable order: for comparing a maintained rollup with a rebuilt one."""
    rows = session.execute(
        select(
            col(CoverageRollup.requirement_id),
            col(CoverageRollup.collected_on),
            col(CoverageRollup.superseded_on),
            col(CoverageRollup.evidence_count),
            col(CoverageRollup.newest_at),
            col(CoverageRollup.running_count),
        )
    )
    return sorted(
        (
            (rid, collected_on, superseded_on, count, as_utc(newest), running)
            for rid, collected_on, superseded_on, count, newest, running in rows
        ),
        key=lambda cell: (cell[0], cell[1], cell[2] or date.max),
    )


def rejection_cells_in_order(session: Session) -> list[tuple[int, int, date, date | None, int, datetime]]:
    """Every rejection cell, in a stable order: for comparing a maintained rollup with a rebuilt one."""
    rows = session.execute(
        select(
            col(CoverageRejection.engagement_id),
            col(CoverageRejection.requirement_id),
            col(CoverageRejection.collected_on),
            col(CoverageRejection.superseded_on),
            col(CoverageRejection.evidence_count),
            col(CoverageRejection.newest_at),
        )
    )
    return sorted(
        (
            (eid, rid, collected_on, superseded_on, count, as_utc(newest))
            for eid, rid, collected_on, superseded_on, count, newest in rows
        ),
        key=lambda cell: (cell[0], cell[1], cell[2], cell[3] or date.max),
    )


def rollup_is_empty(session: OrmSession) -> bool:
    return session.scalar(select(col(CoverageRollup.id)).limit(1)) is None


def has_evidence_links(session: OrmSession) -> bool:
    return session.scalar(select(col(EvidenceRequirement.evidence_id)).limit(1)) is not None
