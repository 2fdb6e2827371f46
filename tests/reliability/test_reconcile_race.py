"""Reconcile (and the retention purge) racing uploads that re-use an orphan object.

The defect: an orphan left by a failed upload, then an upload of the same bytes (dedup re-uses
the object without touching it) while ``store reconcile --remove`` runs, ended with a committed
record whose object was gone. The interleavings are forced with events inside a real store
(LocalStore, or S3Store on moto's HTTP server) on a real database (SQLite, PostgreSQL), each
side in its own connection and thread as two processes would be.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from audit_portal import migrate
from audit_portal.db import make_engine, unit_of_work
from audit_portal.evidence import repository
from audit_portal.evidence.retention import delete_unshared_objects
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.evidence.service import ingest, reconcile
from evidence_store import LocalStore, ObjectStore
from evidence_store.base import sha256_of_object
from tests.evidence_store.conftest import aws_env, make_s3_store, moto_server, s3_bucket  # noqa: F401
from tests.reliability.conftest import DATABASES
from tests.support import fresh_database

GIVE_UP = 60  # seconds a forced interleaving may wait before the test fails instead of hanging


class Paused:
    """A real store whose put stops right after the digest hook, or whose delete stops before
    deleting, until the test lets it go."""

    def __init__(self, store: ObjectStore, *, at: str) -> None:
        self._store = store
        self._at = at
        self.reached = threading.Event()
        self.go = threading.Event()

    def _pause(self) -> None:
        self.reached.set()
        if not self.go.wait(GIVE_UP):
            raise TimeoutError("the test never let the paused store go")

    def put(self, stream: Any, **options: Any) -> Any:
        hook = options.get("on_digest")
        if self._at == "after-digest" and hook is not None:

            def paused_hook(sha256: str) -> None:
                hook(sha256)
                self._pause()

            options["on_digest"] = paused_hook
        return self._store.put(stream, **options)

    def delete(self, key: str) -> None:
        if self._at == "delete":
            self._pause()
        self._store.delete(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture(params=[(db, kind) for db in DATABASES for kind in ("local", "s3")], ids=lambda p: f"{p[0]}-{p[1]}")
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, ObjectStore]]:
    database, kind = request.param
    store: ObjectStore = (
        LocalStore(tmp_path / "store") if kind == "local" else request.getfixturevalue("make_s3_store")()
    )
    with fresh_database(database, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        try:
            yield engine, store
        finally:
            engine.dispose()


def upload(engine: Engine, store: Any, content: bytes) -> int:
    """What an upload request does: its own unit of work, a checkpoint before the record."""
    with unit_of_work(engine) as session:
        evidence = ingest(
            session,
            store,
            stream=io.BytesIO(content),
            filename="config.txt",
            meta=EvidenceMeta(title="Firewall configuration"),
            source=EvidenceSource(kind="upload"),
            max_bytes=10_000_000,
            retention_years=1,
            checkpoint=session.commit,
        )
        return evidence.id  # type: ignore[return-value]


def run_reconcile(engine: Engine, store: Any) -> Any:
    with unit_of_work(engine) as session:
        return reconcile(session, store, remove=True, grace=timedelta(0))


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # noqa: BLE001 - handed to the test to raise
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def result(thread: threading.Thread, outcome: list[Any]) -> Any:
    thread.join(GIVE_UP)
    assert not thread.is_alive(), "a side of the race never finished"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def assert_every_record_has_its_object(engine: Engine, store: ObjectStore) -> None:
    with unit_of_work(engine) as session:
        for key, ids in repository.iter_store_keys(session):
            assert store.exists(key), f"evidence {ids} is committed but its object is gone"
            assert sha256_of_object(store, key)[0] == key.rsplit("/", 1)[-1]


def orphan(store: ObjectStore, content: bytes) -> str:
    """What a failed upload leaves: the object, no record."""
    return store.put(io.BytesIO(content)).key


def test_reconcile_keeps_an_orphan_that_an_upload_is_re_using(world: tuple[Engine, ObjectStore]) -> None:
    engine, store = world
    content = b"interfaces { ge-0/0/0 { unit 0; } }\n"
    key = orphan(store, content)
    paused = Paused(store, at="after-digest")
    uploading = in_thread(lambda: upload(engine, paused, content))
    assert paused.reached.wait(GIVE_UP)

    report = run_reconcile(engine, store)  # --remove --grace-hours 0, while the upload is between
    assert key not in {o.key for o in report.orphans} and report.pending == 1
    assert store.exists(key)

    paused.go.set()
    evidence_id = result(*uploading)
    assert evidence_id
    assert_every_record_has_its_object(engine, store)
    assert run_reconcile(engine, store).orphans == []


def test_an_upload_arriving_while_reconcile_deletes_the_orphan_writes_the_object_again(
    world: tuple[Engine, ObjectStore],
) -> None:
    engine, store = world
    content = b"set security policies from-zone trust to-zone untrust\n"
    key = orphan(store, content)
    paused = Paused(store, at="delete")
    reconciling = in_thread(lambda: run_reconcile(engine, paused))
    assert paused.reached.wait(GIVE_UP)  # reconcile holds the key's lock and is about to delete

    uploading = in_thread(lambda content=content: upload(engine, store, content))
    paused.go.set()
    report = result(*reconciling)
    assert [o.key for o in report.removed] == [key]
    result(*uploading)
    assert store.exists(key)
    assert_every_record_has_its_object(engine, store)


def test_the_retention_purge_never_deletes_an_object_an_upload_is_re_using(world: tuple[Engine, ObjectStore]) -> None:
    engine, store = world
    content = b"expired evidence, uploaded again\n"
    key = orphan(store, content)  # the object of a record the purge has just deleted
    paused = Paused(store, at="after-digest")
    uploading = in_thread(lambda: upload(engine, paused, content))
    assert paused.reached.wait(GIVE_UP)

    with unit_of_work(engine) as session:
        outcomes = delete_unshared_objects(session, store, {key})
    assert [(o.deleted, o.reason) for o in outcomes] == [(False, "an upload of the same bytes is using it")]

    paused.go.set()
    result(*uploading)
    assert_every_record_has_its_object(engine, store)


@pytest.mark.parametrize("rounds", [8])
def test_uploads_and_reconcile_running_together_never_lose_a_committed_object(
    world: tuple[Engine, ObjectStore], rounds: int
) -> None:
    engine, store = world
    for round_number in range(rounds):
        content = f"round {round_number}: the same bytes as a failed upload\n".encode()
        orphan(store, content)
        uploads = [in_thread(lambda content=content: upload(engine, store, content)) for _ in range(2)]
        reconciling = in_thread(lambda: run_reconcile(engine, store))
        for side in (*uploads, reconciling):
            result(*side)
        assert_every_record_has_its_object(engine, store)
