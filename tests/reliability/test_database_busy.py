"""SQLite's single write lock, taken by someone else, never reaches a user as a 500.

Another process (here: a plain sqlite3 connection of the test, as a second portal process or
the CLI would) holds a write transaction on the portal's SQLite file. A collector's push and a
person's upload that must record evidence meanwhile wait for the lock; when it stays taken
beyond the busy timeout they answer 503 with Retry-After, having saved nothing, and the same
request succeeds once the other transaction has committed. No timing is asserted: the lock is
held until the requests have answered, however long that takes on a loaded machine.

Within one process, writers wait for the lock in arrival order (:mod:`audit_portal.sqlite_writes`):
a writer that came later never overtakes one that is waiting, which is what let a record wait
out the whole busy timeout under load before.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, select

from audit_portal.db import unit_of_work
from audit_portal.evidence.models import PendingObject
from audit_portal.sqlite_writes import QueuedConnection, attach, queue_for
from tests.reliability.conftest import Portal, _portal, assert_invariant, records, wait_for
from tests.reliability.test_faults import push
from tests.support import fresh_database


@pytest.fixture
def impatient_portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    """A portal on SQLite whose writers wait one second for the write lock (30 by default)."""
    with fresh_database("sqlite", tmp_path) as database_url:
        yield from _portal(request, tmp_path, database_url, "local", database_busy_timeout_seconds=1.0)


def database_file(portal: Portal) -> str:
    database = make_url(portal.settings.database_url).database
    assert database
    return database


def upload_page(portal: Portal, title: str, content: bytes):  # type: ignore[no-untyped-def]
    with portal.browser() as person:
        return person.post(
            "/evidence/upload",
            data={"title": title},
            files={"files": ("report.txt", content, "text/plain")},
            headers={"HX-Request": "true"},
        )


def test_a_write_lock_held_elsewhere_gives_503_with_retry_after_and_saves_nothing(impatient_portal: Portal) -> None:
    portal = impatient_portal
    other_process = sqlite3.connect(database_file(portal), isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")  # the write lock, as another writer mid-transaction

        pushed = push(portal, "held.csv", b"date,host,status\n2026-12-01,nas,ok\n")
        assert pushed.status_code == 503, pushed.text
        assert pushed.headers["content-type"].startswith("application/problem+json")
        assert pushed.headers["retry-after"] == "5"
        assert "nothing was saved" in pushed.json()["detail"]

        uploaded = upload_page(portal, "Server room access list", b"name,badge\nA. Jansen,1042\n")
        assert uploaded.status_code == 503, uploaded.text
        assert uploaded.headers["retry-after"] == "5"
        assert "Database busy" in uploaded.text and "database is locked" not in uploaded.text
    finally:
        other_process.execute("COMMIT")
        other_process.close()

    assert records(portal) == []
    with unit_of_work(portal.engine) as session:
        assert session.scalars(select(PendingObject)).all() == []

    # The same requests, sent again once the other writer has committed, are recorded.
    assert push(portal, "held.csv", b"date,host,status\n2026-12-01,nas,ok\n").status_code == 201
    again = upload_page(portal, "Server room access list", b"name,badge\nA. Jansen,1042\n")
    assert again.status_code == 200 and "HX-Redirect" in again.headers, again.text
    assert [item.title for item in records(portal)] == ["Nightly backup report", "Server room access list"]
    assert_invariant(portal)


def queued_connection(path: Path) -> sqlite3.Connection:
    """A connection as the portal opens one (pysqlite's own transactions, the write queue)."""
    connection = sqlite3.connect(path, timeout=60, factory=QueuedConnection, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    attach(connection, str(path), 60)
    return connection


def test_writers_of_one_process_get_the_lock_in_arrival_order(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE record (writer TEXT)")
    setup.commit()
    setup.close()
    queue = queue_for(str(path))

    first = queued_connection(path)
    first.execute("INSERT INTO record VALUES ('first')")  # holds the write lock until it commits

    def write(name: str) -> None:
        connection = queued_connection(path)
        connection.execute("INSERT INTO record VALUES (?)", (name,))
        connection.commit()
        connection.close()

    earlier = threading.Thread(target=write, args=("earlier",))
    earlier.start()
    wait_for(lambda: queue.waiting == 1, "the earlier writer to queue")
    later = threading.Thread(target=write, args=("later",))
    later.start()
    wait_for(lambda: queue.waiting == 2, "the later writer to queue behind it")

    first.commit()
    earlier.join(timeout=120)
    later.join(timeout=120)
    first.close()
    check = sqlite3.connect(path)
    assert [row[0] for row in check.execute("SELECT writer FROM record ORDER BY rowid")] == [
        "first",
        "earlier",
        "later",
    ]
    check.close()


def test_the_turn_of_a_connection_dropped_without_closing_is_taken_back(tmp_path: Path) -> None:
    path = tmp_path / "lost.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE record (writer TEXT)")
    setup.commit()
    setup.close()

    lost = queued_connection(path)
    lost.execute("INSERT INTO record VALUES ('lost')")
    assert queue_for(str(path)).holds(lost)
    del lost  # never committed nor closed: the queue is not told
    gc.collect()  # pysqlite's statement cache refers back to its connection: a cycle

    after = queued_connection(path)
    after.execute("INSERT INTO record VALUES ('after')")
    after.commit()
    assert [row[0] for row in after.execute("SELECT writer FROM record ORDER BY rowid")] == ["after"]
    after.close()
