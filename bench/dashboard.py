"""Bench: the dashboard (``GET /`` for management) over 100,000 evidence items.

Each size gets the data set of ``bench/coverage.py`` (the catalogue, collector instances with a
run every day for three years, evidence spread over those years, reviews, sign-offs, findings;
all bulk inserts), plus a year of daily coverage snapshots per framework and group, evidence
requests and a management user. Then ``/`` is requested N times after a warm-up, and the bench
prints the median and p95 time and the number of SQL statements per request (which must not
grow with the data).

    .venv/bin/python bench/dashboard.py [--sizes 1000,10000,100000] [--requests 30]

SQLite (a temporary file) by default; PostgreSQL when AUDIT_PORTAL_BENCH_DATABASE_URL is set.
Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bench.coverage import _bulk, fresh_database, seed, summary, time_requests

REQUESTS_PER_ENGAGEMENT = 40


def seed_management(engine: Engine, engagement_id: int, today: date) -> str:
    """Snapshots, evidence requests and a signed-in management user; returns its cookie."""
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount
    from audit_portal.catalogue.models import ControlGroup
    from audit_portal.db import unit_of_work
    from audit_portal.requests.models import EvidenceRequest
    from audit_portal.trends.models import CoverageSnapshot

    with unit_of_work(engine) as session:
        now = datetime.now(UTC)
        manager = UserAccount(
            username="bench.management", role="management", password_hash="-", password_changed_at=now, created_at=now
        )
        session.add(manager)
        session.flush()
        groups = {(g.framework_key, g.key) for g in session.scalars(select(ControlGroup))}
        snapshots = []
        for offset in range(365):
            day = today - timedelta(days=offset)
            percent = 40 + 30 * (365 - offset) / 365
            for framework in ("iso27001-2022", "annex2"):
                for group in [None, *sorted(key for fw, key in groups if fw == framework)]:
                    snapshots.append(
                        {
                            "day": day,
                            "framework_key": framework,
                            "group_key": group,
                            "covered": 10,
                            "applicable": 20,
                            "percent": round(percent, 1),
                            "counts": {},
                            "taken_at": now,
                        }
                    )
        _bulk(session, CoverageSnapshot.__table__, snapshots)
        _bulk(
            session,
            EvidenceRequest.__table__,
            [
                {
                    "engagement_id": engagement_id,
                    "question": f"Bench question {n}",
                    "due_date": today + timedelta(days=n - 20),
                    "state": ("open", "answered", "accepted", "closed")[n % 4],
                    "created_by": manager.id,
                    "created_at": now,
                }
                for n in range(REQUESTS_PER_ENGAGEMENT)
            ],
        )
        return sessions.start(session, user=manager, stage=sessions.STAGE_SIGNED_IN, address="127.0.0.1").cookie_value


def measure(items: int, requests: int, work_dir: Path) -> dict[str, float]:
    from audit_portal import migrate
    from audit_portal.app import create_app
    from audit_portal.config import Settings
    from audit_portal.db import make_engine

    with fresh_database(work_dir) as database_url:
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        engagement_id, _ = seed(engine, items, date.today())
        cookie = seed_management(engine, engagement_id, date.today())
        # As bench/coverage.py: a live database has planner statistics, a bulk-loaded one none.
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        seeded_in = time.perf_counter() - started
        settings = Settings(
            data_dir=work_dir / "data",
            database_url=database_url,
            store_url="memory://",
            scheduler_enabled=False,
            secret_key="bench-secret-key-long-enough-for-signing-0123",
        )
        timings, statements = time_requests(
            create_app(settings, engine=engine), engine, cookie, "/", requests, must_contain="Compliance overview"
        )
        engine.dispose()
    return summary(items, seeded_in, timings, statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="evidence item counts, comma-separated")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per size")
    arguments = parser.parse_args()
    backend = "PostgreSQL" if os.environ.get("AUDIT_PORTAL_BENCH_DATABASE_URL") else "SQLite"
    work_dir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-dashboard-"))
    print(
        f"GET / (dashboard, management) on {backend} (ANALYZE after seeding), {arguments.requests} timed requests per size, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'evidence':>9} {'seeded':>8} {'median':>9} {'p95':>9} {'SQL statements/request':>23}")
    try:
        for size in (int(s) for s in arguments.sizes.split(",")):
            figures = measure(size, arguments.requests, work_dir)
            spread = (
                f"{figures['statements_min']}"
                if figures["statements_min"] == figures["statements_max"]
                else f"{figures['statements_min']}-{figures['statements_max']}"
            )
            print(
                f"{size:>9} {figures['seeded_s']:>7.1f}s {figures['median_ms']:>7.1f}ms {figures['p95_ms']:>7.1f}ms {spread:>23}",
                flush=True,
            )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
