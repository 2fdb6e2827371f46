"""The benches' pages cost a fixed number of SQL statements, whatever the size of the data.

The data set is the benches' own (``bench/coverage.py`` and ``bench/dashboard.py``: the catalogue,
daily collector runs, evidence, reviews, sign-offs, findings, snapshots, requests), seeded at two
sizes; each page of ``bench/pages.py`` is requested at both, and the statements it runs are
counted. A page whose count grows with the data (a query per item) fails, and so does a page that
needs more statements than its budget: a change that adds queries to a page shows here, on any
machine, without timing anything. The budgets are today's counts; lower one when a page needs
fewer.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.coverage import CONTROL_PAGE, StatementCounter, seed  # noqa: E402
from bench.dashboard import seed_management  # noqa: E402
from tests.support import POSTGRES_URL, fresh_database  # noqa: E402

BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]

SMALL, LARGE = 1600, 4800
# Some statements run only when there is something to look up (a rejected review, a collector
# finding), and which of those the seeded data holds differs a little between sizes; a query per
# item or per row would add hundreds.
SLACK = 5

# Page -> the most statements one request may run (warm caches, as a user browsing): today's
# counts on SQLite (two or three more than on PostgreSQL, which needs no SAVEPOINT bookkeeping
# for the session's writes) and two to spare.
BUDGET = {
    "controls table": 25,
    "control page": 50,
    "dashboard": 37,
    "evidence list, page 1": 10,
    "evidence list, deep page": 10,
    "evidence search, no match": 10,
    "evidence search, a word": 10,
}


def pages(engagement_id: int) -> dict[str, str]:
    return {
        "controls table": f"/engagements/{engagement_id}/controls",
        "control page": f"/engagements/{engagement_id}/controls/{CONTROL_PAGE}",
        "dashboard": "/",
        "evidence list, page 1": "/evidence",
        "evidence list, deep page": "/evidence?limit=20&cursor=",
        "evidence search, no match": "/evidence?q=zzqxv-nothing",
        "evidence search, a word": "/evidence?q=patches",
    }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def counts_at(items: int, backend: str, tmp_path: Path) -> dict[str, int]:
    from audit_portal import migrate
    from audit_portal.app import create_app
    from audit_portal.config import Settings
    from audit_portal.db import make_engine

    with fresh_database(backend, tmp_path) as database_url:
        return _count_pages(items, database_url, tmp_path, migrate, create_app, Settings, make_engine)


def _count_pages(items, database_url, tmp_path, migrate, create_app, Settings, make_engine):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        engagement_id, auditor = seed(engine, items, date.today())
        manager = seed_management(engine, engagement_id, date.today())
        settings = Settings(
            data_dir=tmp_path / f"data-{items}",
            database_url=database_url,
            store_url="memory://",
            scheduler_enabled=False,
            secret_key="statement-count-secret-key-long-enough-0123",
        )
        app = create_app(settings, engine=engine)
        counter = StatementCounter(engine)
        counts = {}
        for name, path in pages(engagement_id).items():
            cookie = auditor if "control" in name else manager
            with TestClient(app, base_url="http://testserver", cookies={"portal_session": cookie}) as client:
                if path.endswith("cursor="):
                    first = client.get("/evidence?limit=20")
                    assert first.status_code == 200
                    path += _next_cursor(first.text)
                for _attempt in range(3):  # the first requests fill the caches; the last one counts
                    counter.count = 0
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.text[:300])
                counts[name] = counter.count
        return counts
    finally:
        engine.dispose()


def _next_cursor(html: str) -> str:
    marker = "cursor="
    start = html.index(marker) + len(marker)
    end = min(i for i in (html.find('"', start), html.find("&", start)) if i != -1)
    return html[start:end]


def test_each_page_runs_the_same_statements_at_any_size_within_its_budget(backend: str, tmp_path: Path) -> None:
    small = counts_at(SMALL, backend, tmp_path)
    large = counts_at(LARGE, backend, tmp_path)
    grown = {name: (small[name], count) for name, count in large.items() if count > small[name] + SLACK}
    assert grown == {}, "(statements at the small size, at the large one): they grow with the data"
    over = {name: (count, BUDGET[name]) for name, count in large.items() if count > BUDGET[name]}
    assert over == {}, "(statements, budget): a change added queries to these pages"
