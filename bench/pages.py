"""Bench: the pages that must cost the same at any size, with a baseline from the same run.

For each size a fresh database gets the data set of ``bench/coverage.py`` and ``bench/dashboard.py``
(catalogue, three years of daily collector runs, the evidence spread over them, reviews,
sign-offs, findings, coverage snapshots, evidence requests), then ``ANALYZE``. The pages are
requested in process (TestClient) after two warm-up requests each:

- the controls table of the engagement (``/engagements/{id}/controls``, as the auditor),
- one control page (``/engagements/{id}/controls/8.8``, as the auditor): the newest occurrence in
  full and one keyset page of the requirement's occurrences (checked to hold one page of rows,
  never the whole history),
- the dashboard (``/``, as management),
- the evidence list, page 1 and a deep page (the cursor of the item half-way down the list),
- the evidence search through the list's search term: a word that matches nothing (the case that
  read every row with ``ILIKE '%x%'``), a word of one requirement's items, and an item number,

and, as the baseline of the machine at that moment, a bare ``SELECT count(*) FROM evidence``.
It also times, once, a rebuild of the coverage rollup from all the evidence, and today's coverage
of the 2022 Annex A computed from the rollup and from the evidence, alternately in one session
(the comparison that holds whatever the machine's load).
The search without a match is also timed as a statement alone, next to the ``ILIKE '%x%'`` search
it replaced, so the database's share shows apart from rendering.
Each line gives the median and p95 in milliseconds, the SQL statements per request (they must
not grow with the data) and the load average while the size ran.

    .venv/bin/python bench/pages.py [--sizes 10000,100000] [--requests 20] [--only search]
    AUDIT_PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/pages.py

Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select

from bench.coverage import CONTROL_PAGE, fresh_database, seed, time_requests
from bench.dashboard import seed_management


def percentile_95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def deep_cursor(engine) -> str:  # type: ignore[no-untyped-def]
    """The cursor of the item half-way down the newest-first list."""
    from sqlmodel import Session

    from audit_portal.evidence.models import Evidence
    from audit_portal.evidence.service import encode_cursor

    with Session(engine) as session:
        total = session.scalar(select(Evidence.id).order_by(Evidence.id.desc()).limit(1)) or 0
        middle = session.scalars(
            select(Evidence).order_by(Evidence.collected_at.desc(), Evidence.id.desc()).offset(total // 2).limit(1)
        ).one()
        return encode_cursor(middle)


def check_one_page_of_occurrences(app, cookie: str, path: str) -> int:  # type: ignore[no-untyped-def]
    """The control page renders one page of occurrence rows, not the requirement's history."""
    import re

    from fastapi.testclient import TestClient

    from audit_portal.engagements.occurrences import PAGE_SIZE

    with TestClient(app, base_url="http://testserver", cookies={"portal_session": cookie}) as client:
        html = client.get(path).text
    # one history per requirement proving the control, each one page at most
    histories = html.split('<div class="occurrences" id="occurrences-')[1:]
    rows = [len(re.findall(r'<tr class="occurrence-row', history)) for history in histories]
    if not rows or not all(0 < count <= PAGE_SIZE for count in rows):
        raise SystemExit(
            f"{path} shows {rows} occurrence rows per requirement; expected one page of at most {PAGE_SIZE}"
        )
    older = sum("Older occurrences" in history for history in histories)
    print(
        f"  {path}: {len(rows)} requirement histories with {rows} occurrence rows ({older} with a link to older "
        f"ones), {len(html):,} bytes of HTML",
        flush=True,
    )
    return sum(rows)


def timed_rebuild(engine) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds for `audit-portal coverage rebuild`'s work on this data set."""
    from audit_portal.coverage import rollup
    from audit_portal.db import unit_of_work

    began = time.perf_counter()
    with unit_of_work(engine) as session:
        rollup.rebuild(session)
    return (time.perf_counter() - began) * 1000


def rollup_against_evidence(engine, requests: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Today's coverage of the 2022 Annex A from the rollup and from the evidence itself,
    alternating, so both see the same machine load."""
    from sqlmodel import Session

    from audit_portal.clock import utcnow
    from audit_portal.coverage.service import coverage_as_of

    timings: dict[bool, list[float]] = {False: [], True: []}
    with Session(engine) as session:
        for attempt in range(requests + 2):
            for from_scratch in (False, True):
                began = time.perf_counter()
                coverage_as_of(session, "iso27001-2022", as_of=utcnow().date(), from_scratch=from_scratch)
                if attempt >= 2:
                    timings[from_scratch].append((time.perf_counter() - began) * 1000)
    return timings[False], timings[True]


def baseline(engine, requests: int) -> list[float]:  # type: ignore[no-untyped-def]
    timings = []
    with engine.connect() as connection:
        for attempt in range(requests + 2):
            began = time.perf_counter()
            connection.exec_driver_sql("SELECT count(*) FROM evidence").scalar()
            if attempt >= 2:
                timings.append((time.perf_counter() - began) * 1000)
    return timings


def statement_timings(engine, statement, requests: int) -> list[float]:  # type: ignore[no-untyped-def]
    timings = []
    with engine.connect() as connection:
        for attempt in range(requests + 2):
            began = time.perf_counter()
            connection.execute(statement).all()
            if attempt >= 2:
                timings.append((time.perf_counter() - began) * 1000)
    return timings


def search_statements(engine, requests: int) -> list[tuple[str, list[float], list[int], float]]:  # type: ignore[no-untyped-def]
    from sqlalchemy import or_

    from audit_portal.evidence.models import Evidence
    from audit_portal.evidence.repository import ListQuery, list_statement
    from audit_portal.search import Search

    needle = "zzqxv-nothing"
    indexed = list_statement(ListQuery(search=Search.parse(needle), limit=51))
    former = (
        select(Evidence)
        .where(or_(Evidence.title.ilike(f"%{needle}%"), Evidence.original_filename.ilike(f"%{needle}%")))
        .order_by(Evidence.collected_at.desc(), Evidence.id.desc())
        .limit(51)
    )
    return [
        ("search statement alone, no match", statement_timings(engine, indexed, requests), [1], os.getloadavg()[0]),
        (
            "former ILIKE '%x%' statement, no match",
            statement_timings(engine, former, requests),
            [1],
            os.getloadavg()[0],
        ),
    ]


def measure(
    items: int, requests: int, work_dir: Path, only: str = ""
) -> list[tuple[str, list[float], list[int], float]]:
    from audit_portal import migrate
    from audit_portal.app import create_app
    from audit_portal.config import Settings
    from audit_portal.db import make_engine

    rows = []
    with fresh_database(work_dir) as database_url:
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        engagement_id, auditor = seed(engine, items, date.today())
        manager = seed_management(engine, engagement_id, date.today())
        rows.append(("coverage rebuild (once)", [timed_rebuild(engine)], [], os.getloadavg()[0]))
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        settings = Settings(
            data_dir=work_dir / "data",
            database_url=database_url,
            store_url="memory://",
            scheduler_enabled=False,
            secret_key="bench-secret-key-long-enough-for-signing-0123",
        )
        app = create_app(settings, engine=engine)
        control_page = f"/engagements/{engagement_id}/controls/{CONTROL_PAGE}"
        check_one_page_of_occurrences(app, auditor, control_page)
        pages = [
            ("controls table", auditor, f"/engagements/{engagement_id}/controls", ""),
            (f"control page {CONTROL_PAGE}, one page of occurrences", auditor, control_page, "occurrences"),
            ("dashboard", manager, "/", "Compliance overview"),
            ("evidence list, page 1", manager, "/evidence", ""),
            ("evidence list, deep page", manager, f"/evidence?cursor={deep_cursor(engine)}", ""),
            ("evidence search, no match", manager, "/evidence?q=zzqxv-nothing", "No evidence matches"),
            ("evidence search, one requirement's word", manager, "/evidence?q=patches", "<mark>"),
            ("evidence search, an item number", manager, f"/evidence?q=%23{items // 2}", ""),
        ]
        for name, cookie, path, must_contain in pages:
            if only not in name:
                continue
            timings, statements = time_requests(app, engine, cookie, path, requests, must_contain=must_contain)
            rows.append((name, timings, statements, os.getloadavg()[0]))
        if not only:
            from_rollup, from_evidence = rollup_against_evidence(engine, requests)
            rows.append(("coverage 2022, from the rollup", from_rollup, [], os.getloadavg()[0]))
            rows.append(("coverage 2022, from the evidence", from_evidence, [], os.getloadavg()[0]))
        if "search" in only or not only:
            rows.extend(search_statements(engine, requests))
        rows.append(("baseline: SELECT count(*) FROM evidence", baseline(engine, requests), [1], os.getloadavg()[0]))
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="evidence item counts, comma-separated")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page and size")
    parser.add_argument("--only", default="", help="time only the pages whose name contains this")
    arguments = parser.parse_args()
    backend = "PostgreSQL" if os.environ.get("AUDIT_PORTAL_BENCH_DATABASE_URL") else "SQLite"
    work_dir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-pages-"))
    print(
        f"pages on {backend} (ANALYZE after seeding), {arguments.requests} timed requests each, "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs"
    )
    print(f"{'evidence':>9}  {'what':<40} {'median':>9} {'p95':>9} {'statements':>10} {'load 1m':>8}")
    try:
        for size in (int(s) for s in arguments.sizes.split(",")):
            for name, timings, statements, load in measure(size, arguments.requests, work_dir, arguments.only):
                if not statements:
                    spread = "-"
                elif min(statements) == max(statements):
                    spread = str(min(statements))
                else:
                    spread = f"{min(statements)}-{max(statements)}"
                print(
                    f"{size:>9}  {name:<40} {statistics.median(timings):>7.2f}ms {percentile_95(timings):>7.2f}ms "
                    f"{spread:>10} {load:>8.1f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
