"""A package reads each control folder starting from the folder's few links, never by walking
every item of the period and probing each for a link (SQLite did that, once per folder, until the
links were materialized first: a third of a second per folder at 100,000 items)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text

from audit_portal.catalogue.models import Requirement
from audit_portal.catalogue.service import load_catalogue
from audit_portal.export import repository

ITEMS = 20_000
SERIES = (
    "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < :rows) SELECT n FROM series"
)


def seed(session, requirement_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    session.execute(
        text(
            f"""
        INSERT INTO evidence (id, title, source_kind, collected_at, original_filename, content_type, size,
                              sha256, store_key, legal_hold, created_at, integrity)
        SELECT n, 'item ' || n, 'collector', datetime('2025-01-01 00:00:00', '+' || (n / 10) || ' hours'), 'item.json', 'application/json', 100,
               'ab', 'k' || n, false, CURRENT_TIMESTAMP, 'ok'
        FROM ({SERIES}) AS series
        """
        ),
        {"rows": ITEMS},
    )
    # Each item linked to one of the requirements in turn: a folder of two holds a small share.
    for position, requirement_id in enumerate(requirement_ids):
        session.execute(
            text(
                f"INSERT INTO evidence_requirement (evidence_id, requirement_id) "
                f"SELECT n, :requirement FROM ({SERIES}) AS series WHERE n % :count = :position"
            ),
            {"rows": ITEMS, "requirement": requirement_id, "count": len(requirement_ids), "position": position},
        )
    session.execute(text("ANALYZE"))


def folder_statement(session, requirement_ids: list[int]) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", capture)
    try:
        rows = list(
            repository.iter_folder_rows(
                session,
                engagement_id=1,
                requirement_ids=requirement_ids,
                source_control_ids=[],
                start=datetime(2025, 1, 1, tzinfo=UTC),
                end=datetime(2026, 1, 1, tzinfo=UTC),
                batch_size=500,
            )
        )
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    assert rows, "the folder holds no item: the plan below would prove nothing"
    return seen[-1]


def test_a_folder_is_read_from_its_links_on_sqlite(session):
    if session.get_bind().dialect.name != "sqlite":
        # PostgreSQL chooses by cost: at this size a scan of the table is its right choice; at
        # 1,000,000 items it reads the materialized links and looks the items up by key
        # (docs/performance.md, "Export").
        pytest.skip("the plan checked is SQLite's")
    load_catalogue(session)
    requirement_ids = list(session.scalars(select(Requirement.id).order_by(Requirement.id).limit(60)))
    seed(session, requirement_ids)
    statement, parameters = folder_statement(session, requirement_ids[:2])
    connection = session.connection()
    plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    evidence_steps = [step for step in plan if step.startswith(("SCAN evidence", "SEARCH evidence "))]
    assert evidence_steps == ["SEARCH evidence USING INTEGER PRIMARY KEY (rowid=?)"], plan
    assert any("ix_evidence_requirement_requirement_id" in step for step in plan), plan
