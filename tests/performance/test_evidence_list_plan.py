"""The evidence list costs the same at any depth: the keyset condition is a row comparison the
index answers (checked in PostgreSQL's plan), and the filter choices come from a small table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from audit_portal.evidence import repository
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.repository import ListQuery
from audit_portal.search import Search

SEEDED = 20_000


def plan_nodes(plan: dict) -> list[dict]:  # type: ignore[type-arg]
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


def seed(session, rows: int) -> None:  # type: ignore[no-untyped-def]
    # Three years of items, several per day with equal timestamps, as collectors produce them.
    session.execute(
        text(
            """
        INSERT INTO evidence (title, source_kind, collected_at, original_filename, content_type, size,
                              sha256, store_key, legal_hold, created_at, integrity)
        SELECT 'item ' || n, 'collector', TIMESTAMPTZ '2024-01-01 00:00+00' + (n / 20) * INTERVAL '1 hour',
               'item.json', 'application/json', 100, md5(n::text) || md5(n::text), 'k' || n, false, now(), 'ok'
        FROM generate_series(1, :rows) AS n
        """
        ),
        {"rows": rows},
    )
    session.execute(text("ANALYZE evidence"))


def test_deep_page_is_one_index_range_on_postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's; SQLite has no comparable EXPLAIN output")
    seed(session, SEEDED)
    # A cursor in the middle of the seeded rows: half of the table lies above it.
    middle = datetime(2024, 1, 1, tzinfo=UTC).replace(day=21, hour=16)
    statement = repository.list_statement(ListQuery(after=(middle, SEEDED // 2), limit=50))
    compiled = statement.compile(dialect=session.get_bind().dialect)
    result = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params)
    raw = result.scalar()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    nodes = [node for node in plan_nodes(plan) if node.get("Relation Name") == "evidence"]
    assert nodes, plan
    assert all(node["Node Type"] != "Seq Scan" for node in nodes), plan
    # The keyset bound is the index's own range condition, not a filter run over every row
    # above the cursor (which is what ``a < x OR (a = x AND id < y)`` gives).
    (scan,) = nodes
    assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), plan
    assert scan["Index Name"] == "ix_evidence_collected_at_id"
    assert "collected_at" in scan.get("Index Cond", ""), plan
    assert "collected_at" not in scan.get("Filter", ""), plan


def test_keyset_pages_meet_without_gap_or_overlap(session):
    """Equal timestamps are the case the row comparison must order by id: paging through them
    yields every item exactly once, on both backends."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    session.add_all(
        [
            Evidence(
                title=f"item {n}",
                source_kind="collector",
                collected_at=base + timedelta(hours=n // 20),
                original_filename="item.json",
                content_type="application/json",
                size=100,
                sha256=f"{n:064d}",
                store_key=f"k{n}",
                created_at=base,
            )
            for n in range(500)
        ]
    )
    session.flush()
    seen: list[int] = []
    after = None
    while True:
        page = repository.list_evidence(session, ListQuery(after=after, limit=37))
        if not page:
            break
        seen.extend(e.id for e in page)  # type: ignore[misc]
        after = (page[-1].collected_at, page[-1].id)
    assert len(seen) == 500 and len(set(seen)) == 500
    ordered = repository.list_evidence(session, ListQuery(limit=1000))
    assert seen == [e.id for e in ordered]


def test_a_search_without_match_reads_the_search_indexes_on_postgresql(session):
    """A search that matches nothing must not read the evidence table row by row (at 1M items that
    took seconds): the plan answers it from the full-text and trigram GIN indexes."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's; SQLite answers from its FTS5 table by construction")
    seed(session, SEEDED)
    statement = repository.list_statement(ListQuery(search=Search.parse("zzqxv-nothing"), limit=50))
    compiled = statement.compile(dialect=session.get_bind().dialect)
    raw = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
    nodes = plan_nodes(plan)
    assert all(node["Node Type"] != "Seq Scan" for node in nodes), plan
    used = {node.get("Index Name") for node in nodes if node["Node Type"] == "Bitmap Index Scan"}
    assert {"ix_evidence_search_fts", "ix_evidence_search_trgm"} <= used, plan
