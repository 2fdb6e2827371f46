"""Bench: the controls table of an engagement over 100,000 evidence items and 3 years of runs.

For each size (default 1,000, 10,000 and 100,000 evidence items) a fresh database gets the
catalogue, collector instances with a run every day for three years, the evidence spread over
those three years (collector artifacts tied to their runs, manual uploads for the manual
requirements), some reviews, sign-offs and findings, all with bulk inserts. Then
``GET /engagements/{id}/controls`` is requested by a signed-in auditor through the app in
process, N times after a warm-up, and the bench prints the median and p95 time and the number
of SQL statements one request issues (it must not grow with the data); then the same for one
control page (``/engagements/{id}/controls/8.8``: the newest occurrence per requirement and one
keyset page of its occurrence history).

    .venv/bin/python bench/coverage.py [--sizes 1000,10000,100000] [--requests 30]

SQLite (a temporary file) by default; PostgreSQL when AUDIT_PORTAL_BENCH_DATABASE_URL is set
(each size in a new schema, dropped afterwards). Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine, make_url

YEARS = 3
BATCH = 5000
FAKE_SHA = "0" * 64  # the page reads records only; no object is opened
ARTIFACTS = ("raw", "normalised", "report")
CONTROL_PAGE = "8.8"  # proven by the patch collector's OPS-2/patches via its measure


@contextmanager
def fresh_database(work_dir: Path) -> Iterator[str]:
    postgres = os.environ.get("AUDIT_PORTAL_BENCH_DATABASE_URL", "")
    if not postgres:
        yield f"sqlite:///{work_dir / f'{uuid.uuid4().hex}.db'}"
        return
    from audit_portal.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(postgres)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _bulk(session, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for first in range(0, len(rows), BATCH):
        session.execute(insert(table), rows[first : first + BATCH])


def seed(engine: Engine, items: int, today: date) -> tuple[int, str]:
    """Everything the controls page reads, in bulk. Returns (engagement id, auditor cookie)."""
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount
    from audit_portal.catalogue.models import Requirement
    from audit_portal.catalogue.service import load_catalogue
    from audit_portal.collection.models import CollectorInstance, CollectorRun
    from audit_portal.coverage import rollup
    from audit_portal.db import unit_of_work
    from audit_portal.engagements.models import Engagement, EngagementAuditor, EvidenceReview
    from audit_portal.evidence.models import Evidence, EvidenceRequirement, EvidenceSignoff
    from audit_portal.findings.models import Finding
    from audit_portal.soa.service import ensure_defaults

    first_day = today - timedelta(days=365 * YEARS)
    days = (today - first_day).days
    with unit_of_work(engine) as session:
        load_catalogue(session)
        ensure_defaults(session)
        now = datetime.now(UTC)
        auditor = UserAccount(
            username="bench.auditor",
            role="auditor",
            password_hash="-",
            password_changed_at=now,
            created_at=now,
            valid_until=now + timedelta(days=30),
        )
        it = UserAccount(username="bench.it", role="it", password_hash="-", password_changed_at=now, created_at=now)
        session.add_all([auditor, it])
        session.flush()
        requirements = list(session.scalars(select(Requirement).order_by(Requirement.position, Requirement.id)))
        collectors = sorted({r.collector for r in requirements if not r.is_manual})
        instances = [
            {
                "id": i + 1,
                "name": f"{name}-main",
                "collector": name,
                "config_json": "{}",
                "schedule": "@daily",
                "enabled": True,
                "remote": False,
                "requirement_keys": "",
                "timeout_seconds": 600,
                "created_at": now,
                "updated_at": now,
            }
            for i, name in enumerate(collectors)
        ]
        _bulk(session, CollectorInstance.__table__, instances)
        run_id = {}
        runs = []
        for instance in instances:
            for day in range(days):
                started = datetime.combine(
                    first_day + timedelta(days=day), datetime.min.time(), tzinfo=UTC
                ) + timedelta(hours=2)
                run_id[(instance["collector"], day)] = len(runs) + 1
                runs.append(
                    {
                        "id": len(runs) + 1,
                        "instance_id": instance["id"],
                        "instance_name": instance["name"],
                        "collector_version": "1",
                        "trigger": "schedule",
                        "started_at": started,
                        "finished_at": started + timedelta(minutes=1),
                        "status": "failed" if day % 97 == 0 else "ok",
                        "attempt": 1,
                        "log": "",
                        "findings_count": 0,
                    }
                )
        _bulk(session, CollectorRun.__table__, runs)

        evidence, links, reviews, signoffs, findings = [], [], [], [], []
        engagement = Engagement(
            name="Bench surveillance audit",
            framework_key="iso27001-2022",
            period_start=today - timedelta(days=365),
            period_end=today,
            created_at=now,
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        step = days * 86400 / items
        for index in range(items):
            requirement = requirements[index % len(requirements)]
            collected = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=index * step)
            day = (collected.date() - first_day).days
            manual = requirement.is_manual
            evidence_id = index + 1
            evidence.append(
                {
                    "id": evidence_id,
                    "title": f"{requirement.key} {collected:%Y-%m-%d}",
                    "source_kind": "upload" if manual else "collector",
                    "uploaded_by_id": it.id if manual else None,
                    "collector_instance": None if manual else f"{requirement.collector}-main",
                    "collector_run_id": None if manual else run_id[(requirement.collector, min(day, days - 1))],
                    "artifact_kind": None if manual else ARTIFACTS[index % 3],
                    "collected_at": collected,
                    "original_filename": f"evidence-{evidence_id}.json",
                    "content_type": "application/json",
                    "size": 1024 + index % 4096,
                    "sha256": FAKE_SHA,
                    "store_key": f"sha256/00/00/{FAKE_SHA}",
                    "legal_hold": False,
                    "created_at": collected,
                }
            )
            links.append({"evidence_id": evidence_id, "requirement_id": requirement.id})
            if collected.date() >= engagement.period_start and index % 50 == 0:
                reviews.append(
                    {
                        "engagement_id": engagement.id,
                        "evidence_id": evidence_id,
                        "status": "rejected" if index % 200 == 0 else "accepted",
                        "reviewed_at": now,
                    }
                )
            if requirement.needs_signoff and index % 2 == 0:
                signoffs.append(
                    {"evidence_id": evidence_id, "signed_by_id": it.id, "signed_at": collected, "remark": "reviewed"}
                )
            if not manual and index % 500 == 0:
                findings.append(
                    {
                        "source": "collector",
                        "key": f"bench/{index}",
                        "title": "port open to the world",
                        "severity": "high" if index % 1000 == 0 else "medium",
                        "status": "open",
                        "collector_instance": f"{requirement.collector}-main",
                        "evidence_id": evidence_id,
                        "created_at": collected,
                    }
                )
        _bulk(session, Evidence.__table__, evidence)
        _bulk(session, EvidenceRequirement.__table__, links)
        _bulk(session, EvidenceReview.__table__, reviews)
        _bulk(session, EvidenceSignoff.__table__, signoffs)
        _bulk(session, Finding.__table__, findings)
        # Bulk rows bypass the rollup's hooks when the app has not installed them yet in this
        # process: build it the way `audit-portal coverage rebuild` does.
        rollup.rebuild(session)
        cookie = sessions.start(session, user=auditor, stage=sessions.STAGE_SIGNED_IN, address="127.0.0.1").cookie_value
        return engagement.id, cookie  # type: ignore[return-value]


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: object) -> None:
        self.count += 1


def measure(items: int, requests: int, work_dir: Path, *, analyze: bool) -> dict[str, float]:

    from audit_portal import migrate
    from audit_portal.app import create_app
    from audit_portal.config import Settings
    from audit_portal.db import make_engine

    with fresh_database(work_dir) as database_url:
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        started = time.perf_counter()
        engagement_id, cookie = seed(engine, items, date.today())
        if analyze:
            # A live database has planner statistics (PostgreSQL's autovacuum gathers them); a
            # freshly bulk-loaded one has none, and the planner then walks the wrong index.
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
        app = create_app(settings, engine=engine)
        timings, statements = time_requests(app, engine, cookie, f"/engagements/{engagement_id}/controls", requests)
        # One control page: the newest occurrence per requirement and one page of the history.
        page_timings, page_statements = time_requests(
            app, engine, cookie, f"/engagements/{engagement_id}/controls/{CONTROL_PAGE}", requests, "occurrences"
        )
        engine.dispose()
    figures = summary(items, seeded_in, timings, statements)
    page = summary(items, seeded_in, page_timings, page_statements)
    figures.update({f"control_{key}": value for key, value in page.items() if key not in ("items", "seeded_s")})
    return figures


def time_requests(
    app, engine: Engine, cookie: str, path: str, requests: int, must_contain: str = ""
) -> tuple[list[float], list[int]]:  # type: ignore[no-untyped-def]
    """GET ``path`` as the signed-in cookie's user: two warm-up requests (they fill the template
    and statement caches), then ``requests`` timed ones; milliseconds and statements of each."""
    from fastapi.testclient import TestClient

    counter = StatementCounter(engine)
    timings, statements = [], []
    with TestClient(app, base_url="http://testserver", cookies={"portal_session": cookie}) as client:
        for attempt in range(requests + 2):
            counter.count = 0
            began = time.perf_counter()
            response = client.get(path)
            took = time.perf_counter() - began
            if response.status_code != 200 or must_contain not in response.text:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
            if attempt >= 2:
                timings.append(took * 1000)
                statements.append(counter.count)
    return timings, statements


def summary(items: int, seeded_in: float, timings: list[float], statements: list[int]) -> dict[str, float]:
    timings = sorted(timings)
    return {
        "items": items,
        "seeded_s": seeded_in,
        "median_ms": statistics.median(timings),
        "p95_ms": timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))],
        "statements_min": min(statements),
        "statements_max": max(statements),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="evidence item counts, comma-separated")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per size")
    parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE after seeding (no planner statistics)")
    arguments = parser.parse_args()
    backend = "PostgreSQL" if os.environ.get("AUDIT_PORTAL_BENCH_DATABASE_URL") else "SQLite"
    work_dir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-coverage-"))
    statistics_note = "no planner statistics" if arguments.no_analyze else "ANALYZE after seeding"
    print(
        f"GET /engagements/{{id}}/controls on {backend} ({statistics_note}), {YEARS} years of daily collector runs, "
        f"{arguments.requests} timed requests per size"
    )
    print(f"{'':>18} {'controls table':^43} {'control page ' + CONTROL_PAGE:^43}")
    print(
        f"{'evidence':>9} {'seeded':>8} {'median':>9} {'p95':>9} {'SQL statements/request':>23}"
        f" {'median':>9} {'p95':>9} {'SQL statements/request':>23}"
    )
    try:
        for size in (int(s) for s in arguments.sizes.split(",")):
            figures = measure(size, arguments.requests, work_dir, analyze=not arguments.no_analyze)
            spread = (
                f"{figures['statements_min']}"
                if figures["statements_min"] == figures["statements_max"]
                else f"{figures['statements_min']}-{figures['statements_max']}"
            )
            page_spread = (
                f"{figures['control_statements_min']}"
                if figures["control_statements_min"] == figures["control_statements_max"]
                else f"{figures['control_statements_min']}-{figures['control_statements_max']}"
            )
            print(
                f"{size:>9} {figures['seeded_s']:>7.1f}s {figures['median_ms']:>7.1f}ms {figures['p95_ms']:>7.1f}ms {spread:>23}"
                f" {figures['control_median_ms']:>7.1f}ms {figures['control_p95_ms']:>7.1f}ms {page_spread:>23}",
                flush=True,
            )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
