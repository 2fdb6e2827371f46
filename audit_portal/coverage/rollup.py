"""The coverage rollup: kept in the same transaction as every write to the evidence links and
the reviews, read by :func:`audit_portal.coverage.service.compute_coverage` instead of
aggregating the evidence.

What it stores (``coverage_rollup``, see :class:`CoverageRollup`): per requirement, per UTC day
of collection and per UTC day of supersession, how many links count and the newest collection
time among them, and on the cells of links not superseded a running count per requirement. A
framework's coverage for the period [start, T] then reads two cells per requirement (the running
counts at T and before the start) and the few cells of links superseded after T, instead of
every evidence item or every day of the period. Beside it, ``coverage_rejection``
(:class:`CoverageRejection`) holds the same cells for the links each engagement rejected, which
an engagement's coverage takes off: a range of its days, not a look-up of every rejected item.
What a status depends on besides that is read at the moment coverage is computed, from small
indexed lookups: the newest items and their sign-offs, the open findings on them, the Statement
of Applicability and the switch-offs. The status itself is never stored: time passing turns met
into stale without any write.

How it is kept: the hooks below are registered on every SQLAlchemy session of the process by
:func:`install` (the app, the CLI, the scheduler and the tests call it where they make their
engines). They see every ORM flush and every bulk UPDATE/DELETE/INSERT on ``evidence``,
``evidence_requirement`` and ``evidence_review``, find the (requirement, day) cells the write
touched, before and after it, and recompute those cells and their rejection cells from scratch
from the evidence and reviews of that requirement and day (bounded queries), shifting the running
counts of that requirement's later cells by the change, on the same connection and so in the same
transaction. ``audit-portal coverage rebuild`` recomputes everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from audit_portal.coverage import repository
from audit_portal.engagements.models import EvidenceReview
from audit_portal.engagements.scope import period_window
from audit_portal.evidence.models import Evidence, EvidenceRequirement

ROLLUP_TABLES = {Evidence.__tablename__, EvidenceRequirement.__tablename__, EvidenceReview.__tablename__}
_TOUCHED = "coverage_rollup_touched"  # session.info key: cells seen before a flush
INSERT_BATCH = 5_000

Cell = tuple[int, date]  # (requirement id, UTC day of collection)


def install() -> None:
    """Keep the rollup on every session of this process (idempotent)."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("do_orm_execute", _on_execute),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def refresh_cells(connection: Connection, cells: Iterable[Cell]) -> None:
    """Recompute these cells from the evidence as it is now on ``connection``, and the running
    counts of the later cells of their requirements. Day by day in order, so each day's running
    counts start from earlier days that are already right."""
    by_day: dict[date, set[int]] = defaultdict(set)
    for requirement_id, day in cells:
        by_day[day].add(requirement_id)
    for day, requirement_ids in sorted(by_day.items()):
        since, until = period_window(day, day)
        day_links = repository.links_collected_between(connection, since, until, requirement_ids)
        rejecting = repository.rejecting_engagements(connection, {link[0] for link in day_links})
        rejected = [
            (engagement_id, rid, collected_at, superseded_at)
            for evidence_id, rid, collected_at, superseded_at in day_links
            for engagement_id in rejecting.get(evidence_id, ())
        ]
        repository.replace_rejection_cells(connection, day, requirement_ids, _rejection_cells(rejected))
        links = [(rid, collected_at, superseded_at) for _id, rid, collected_at, superseded_at in day_links]
        before = repository.not_superseded_counts(connection, day, requirement_ids)
        running_before = repository.running_counts(connection, requirement_ids, day - timedelta(days=1))
        cells_of_day = _cells(links)
        after: dict[int, int] = {}
        for cell in cells_of_day:
            if cell["superseded_on"] is None:
                requirement_id = cast(int, cell["requirement_id"])
                after[requirement_id] = cast(int, cell["evidence_count"])
                cell["running_count"] = running_before.get(requirement_id, 0) + after[requirement_id]
        repository.replace_rollup_cells(connection, day, requirement_ids, cells_of_day)
        shifts: dict[int, set[int]] = defaultdict(set)
        for requirement_id in requirement_ids:
            if change := after.get(requirement_id, 0) - before.get(requirement_id, 0):
                shifts[change].add(requirement_id)
        for change, shifted in shifts.items():
            repository.shift_running_counts(connection, shifted, day, change)


def refresh_requirements(session: Session, requirement_ids: Iterable[int], days: Iterable[date]) -> None:
    """Recompute the cells of these requirements on these days (for writes the hooks cannot see,
    e.g. raw SQL on the connection)."""
    refresh_cells(session.connection(), {(rid, day) for rid in requirement_ids for day in days})


def rebuild(session: Session) -> int:
    """Throw the rollup away and compute it again from every evidence link; the number of cells."""
    connection = session.connection()
    repository.clear_rollup(connection)
    cells = _with_running_counts(_cells(repository.all_counting_links(connection)))
    for first in range(0, len(cells), INSERT_BATCH):
        repository.insert_rollup_cells(connection, cells[first : first + INSERT_BATCH])
    rejections = _rejection_cells(repository.all_rejected_links(connection))
    for first in range(0, len(rejections), INSERT_BATCH):
        repository.insert_rejection_cells(connection, rejections[first : first + INSERT_BATCH])
    return len(cells)


def fill_if_empty(session: Session) -> bool:
    """Build the rollup when it is empty but evidence is linked (an installation upgraded without
    the rebuild, a restore of an older backup): True when it did."""
    if repository.rollup_is_empty(session) and repository.has_evidence_links(session):
        rebuild(session)
        return True
    return False


def newest_evidence(
    session: Session, requirement_ids: set[int], first_day: date, last_day: date, engagement_id: int | None
) -> dict[int, repository.NewestEvidence]:
    """What :func:`repository.newest_evidence` computes from the evidence, read from the rollup:
    per requirement, the newest collection time and the count of the links that count in the days
    [first_day, last_day]. An engagement's rejections are taken off afterwards: they are few, and
    only the requirements whose newest item was rejected have their newest looked up again."""
    totals = repository.rollup_totals(session, requirement_ids, first_day, last_day)
    if engagement_id is not None:
        totals = _without_rejections(session, totals, requirement_ids, first_day, last_day, engagement_id)
    return {
        rid: repository.NewestEvidence(rid, total.newest_at, total.evidence_count)
        for rid, total in totals.items()
        if rid in requirement_ids
    }


def _without_rejections(
    session: Session,
    totals: dict[int, repository.RollupTotal],
    requirement_ids: set[int],
    first_day: date,
    last_day: date,
    engagement_id: int,
) -> dict[int, repository.RollupTotal]:
    rejected = {
        rid: found
        for rid, found in repository.rejected_totals(session, engagement_id, first_day, last_day).items()
        if rid in totals and rid in requirement_ids
    }
    counts = {rid: totals[rid].evidence_count - count for rid, (count, _newest) in rejected.items()}
    newest_rejected = {
        rid for rid, (_count, newest_at) in rejected.items() if counts[rid] > 0 and totals[rid].newest_at == newest_at
    }
    newest_again = _newest_not_rejected(session, newest_rejected, first_day, last_day, engagement_id)
    result = dict(totals)
    for requirement_id, count in counts.items():
        newest = (
            newest_again.get(requirement_id) if requirement_id in newest_rejected else totals[requirement_id].newest_at
        )
        if count <= 0 or newest is None:
            del result[requirement_id]
        else:
            result[requirement_id] = repository.RollupTotal(requirement_id, newest, count)
    return result


LOOK_BACK_DAYS = 31  # the days searched for a requirement's newest item the engagement did not reject


def _newest_not_rejected(
    session: Session,
    requirement_ids: set[int],
    first_day: date,
    last_day: date,
    engagement_id: int,
) -> dict[int, datetime]:
    """The newest counting collection time of requirements whose newest item the engagement
    rejected. The rollup's cells of their last weeks, less the rejected links of each day, name
    the newest day that still holds a counting link; only that day's links are read. A requirement
    with every link of those weeks rejected is looked up over the whole period."""
    if not requirement_ids:
        return {}
    start, end = period_window(first_day, last_day)
    look_from = max(first_day, last_day - timedelta(days=LOOK_BACK_DAYS))
    cells = repository.counting_cells(session, requirement_ids, look_from, last_day)
    rejected = repository.rejected_per_day(session, engagement_id, requirement_ids, look_from, last_day)
    newest_day: dict[int, date] = {}
    for (requirement_id, day), count in sorted(cells.items(), key=lambda cell: cell[0][1], reverse=True):
        if requirement_id not in newest_day and count > rejected.get((requirement_id, day), 0):
            newest_day[requirement_id] = day
    found = repository.newest_counting_on(
        session, {rid: period_window(day, day) for rid, day in newest_day.items()}, start, end, engagement_id
    )
    rest = requirement_ids - set(found)
    return found | repository.newest_counting_at(session, rest, start, end, engagement_id)


def _cells(links: Iterable[tuple[int, datetime, datetime | None]]) -> list[dict[str, object]]:
    owned = (((("requirement_id", rid),), collected_at, superseded_at) for rid, collected_at, superseded_at in links)
    return [{**cell, "running_count": None} for cell in _by_day(owned)]


def _rejection_cells(links: Iterable[tuple[int, int, datetime, datetime | None]]) -> list[dict[str, object]]:
    owned = (
        ((("engagement_id", engagement_id), ("requirement_id", rid)), collected_at, superseded_at)
        for engagement_id, rid, collected_at, superseded_at in links
    )
    return _by_day(owned)


Owner = tuple[tuple[str, int], ...]  # the columns a cell belongs to: its requirement (and engagement)


def _by_day(links: Iterable[tuple[Owner, datetime, datetime | None]]) -> list[dict[str, object]]:
    """Links grouped into cells by their owner, UTC day of collection and UTC day of
    supersession, with their count and newest collection time."""
    grouped: dict[tuple[Owner, date, date | None], list] = {}
    for owner, collected_at, superseded_at in links:
        key = (owner, collected_at.date(), superseded_at.date() if superseded_at else None)
        cell = grouped.setdefault(key, [0, collected_at])
        cell[0] += 1
        cell[1] = max(cell[1], collected_at)
    return [
        {
            **dict(owner),
            "collected_on": collected_on,
            "superseded_on": superseded_on,
            "evidence_count": count,
            "newest_at": newest,
        }
        for (owner, collected_on, superseded_on), (count, newest) in grouped.items()
    ]


def _with_running_counts(cells: list[dict[str, object]]) -> list[dict[str, object]]:
    """Give each cell not superseded the running count of its requirement up to its day."""
    running: dict[int, int] = defaultdict(int)
    not_superseded = (cell for cell in cells if cell["superseded_on"] is None)
    for cell in sorted(not_superseded, key=lambda cell: cast(date, cell["collected_on"])):
        requirement_id = cast(int, cell["requirement_id"])
        running[requirement_id] += cast(int, cell["evidence_count"])
        cell["running_count"] = running[requirement_id]
    return cells


def _day_cells(link_times: Iterable[tuple[int, datetime]]) -> set[Cell]:
    return {(requirement_id, collected_at.date()) for requirement_id, collected_at in link_times}


def _before_flush(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    """Remember the cells of evidence about to change or go, and of links about to go, while the
    database still holds their old days."""
    evidence_ids = {
        o.id for o in session.dirty if isinstance(o, Evidence) and o.id is not None and session.is_modified(o)
    }
    evidence_ids |= {o.id for o in session.deleted if isinstance(o, Evidence) and o.id is not None}
    evidence_ids |= {o.evidence_id for o in session.deleted if isinstance(o, EvidenceRequirement | EvidenceReview)}
    evidence_ids |= {o.evidence_id for o in session.dirty if isinstance(o, EvidenceReview) and session.is_modified(o)}
    if evidence_ids:
        touched = session.info.setdefault(_TOUCHED, set())
        touched |= _day_cells(repository.evidence_link_times(session.connection(), evidence_ids))


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Recompute the cells remembered before the flush and those of the links and evidence it
    wrote (``session.new`` and ``session.dirty`` still list them here)."""
    touched: set[Cell] = session.info.pop(_TOUCHED, set())
    evidence_ids = {o.evidence_id for o in session.new if isinstance(o, EvidenceRequirement | EvidenceReview)}
    evidence_ids |= {o.id for o in session.dirty if isinstance(o, Evidence) and o.id is not None}
    evidence_ids |= {o.evidence_id for o in session.dirty if isinstance(o, EvidenceReview)}
    if not touched and not evidence_ids:
        return
    connection = session.connection()
    touched |= _day_cells(repository.evidence_link_times(connection, evidence_ids))
    refresh_cells(connection, touched)


def _on_execute(state: ORMExecuteState):
    """Bulk statements on the evidence tables (the retention purge, integrity marks, bulk loads):
    run the statement between two looks at the cells it touches."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return None
    table = getattr(state.statement, "table", None)
    if table is None or getattr(table, "name", None) not in ROLLUP_TABLES:
        return None
    connection = state.session.connection()
    if state.is_insert:
        result = state.invoke_statement()
        parameters = state.parameters
        rows = cast(Sequence[Mapping[str, Any]], parameters if isinstance(parameters, list) else [parameters or {}])
        inserted = {row["evidence_id"] for row in rows if row and "evidence_id" in row}
        refresh_cells(connection, _day_cells(repository.evidence_link_times(connection, inserted)))
        return result
    evidence_ids = repository.evidence_ids_where(connection, table, getattr(state.statement, "whereclause", None))
    before = _day_cells(repository.evidence_link_times(connection, evidence_ids))
    result = state.invoke_statement()
    refresh_cells(connection, before | _day_cells(repository.evidence_link_times(connection, evidence_ids)))
    return result
