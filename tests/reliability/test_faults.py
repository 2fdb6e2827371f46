"""Faults injected into a running portal process; after each, the invariant holds (see conftest).

kill -9 mid-upload, store write failure (read-only folder, S3 bucket gone), full disk, database
failure after the object write, corrupted object (download, preview, scrub, repair)."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from audit_portal.clock import utcnow
from audit_portal.db import unit_of_work
from audit_portal.evidence.service import LEFTOVER_MIN_AGE, PENDING_GRACE
from evidence_store import LocalStore, S3Store, key_for
from tests.evidence.conftest import BOUNDARY, push_body
from tests.evidence_store.test_store_contract import damage, flip_one_byte
from tests.reliability.conftest import (
    COLLECTOR_INSTANCE,
    Portal,
    assert_invariant,
    reconcile_now,
    records,
    wait_for,
)

MiB = 1024 * 1024


def meta(**fields: object) -> dict[str, object]:
    return {"title": "Nightly backup report", "collector_instance": COLLECTOR_INSTANCE, **fields}


def push(portal: Portal, filename: str, content: bytes) -> httpx.Response:
    body, headers = push_body(meta(), filename, content)
    with portal.api() as client:
        return client.post("/api/v1/evidence", content=body, headers=headers)


def payload(size: int, seed: int = 1) -> bytes:
    return b"date,host,status\n" + random.Random(seed).randbytes(size).hex().encode()[:size]


# --- kill -9 mid-upload ----------------------------------------------------------------------


def staging_files(portal: Portal) -> list[Path]:
    staging = portal.extra["store_root"] / "staging"
    return list(staging.iterdir()) if staging.is_dir() else []


def interrupted_writes(portal: Portal) -> int:
    return len(list(portal.store.iter_leftovers()))


def test_kill_9_mid_upload_leaves_no_half_evidence_and_reconcile_cleans_up(portal: Portal) -> None:
    assert push(portal, "before.csv", payload(2000, seed=2)).status_code == 201
    size = 24 * MiB  # beyond one S3 part, so a multipart upload is under way when the kill comes
    body, headers = push_body(meta(), "killed.csv", payload(size, seed=3))
    host, port = portal.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(
            f"POST /api/v1/evidence HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {portal.token}\r\n"
            f"Content-Type: {headers['Content-Type']}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        connection.sendall(body[: 16 * MiB])
        wait_for(lambda: interrupted_writes(portal) > 0, "the upload to reach the store")
        portal.kill9()

    assert [e.original_filename for e in records(portal)] == ["before.csv"]
    assert_invariant(portal)
    leftovers = list(portal.store.iter_leftovers())
    assert leftovers and {leftover.kind for leftover in leftovers} <= {"staging", "multipart", "temporary"}

    portal.start()
    listed = portal.cli("store", "reconcile", "--remove", "--grace-hours", "0")
    assert listed.returncode == 0, listed.stderr
    assert "leftover" in listed.stdout
    if isinstance(portal.store, LocalStore):
        # Listed, but kept: a write that young may still be running. (moto reports a fixed
        # initiation date of 2010 for every multipart upload, so S3's age cannot be shown here.)
        assert list(portal.store.iter_leftovers()) == leftovers
    report = reconcile_now(portal, now=utcnow() + LEFTOVER_MIN_AGE + timedelta(minutes=1))
    assert all(entry.removed for entry in report.leftovers)
    assert list(portal.store.iter_leftovers()) == []
    assert push(portal, "after.csv", payload(3000, seed=4)).status_code == 201
    assert_invariant(portal)


# --- the store cannot be written ---------------------------------------------------------------


@contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def unwritable_store(portal: Portal) -> Iterator[None]:
    if isinstance(portal.store, S3Store):
        # The bucket goes away: every write is refused (NoSuchBucket), as when S3 is unreachable.
        client = portal.store.client
        for item in client.list_objects_v2(Bucket=portal.store.bucket).get("Contents", []):
            client.delete_object(Bucket=portal.store.bucket, Key=item["Key"])
        client.delete_bucket(Bucket=portal.store.bucket)
        yield
        return
    with mounted_tmpfs(portal.extra["store_root"], "ro,size=1m"):
        yield


def test_an_unwritable_store_answers_503_and_records_nothing(portal: Portal) -> None:
    with unwritable_store(portal):
        response = push(portal, "report.csv", payload(5000))
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "nothing was recorded" in response.json()["detail"]

        body, headers = push_body(meta(), "x", b"")  # only for the boundary; the page takes "files"
        page_body = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nScan\r\n'
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="scan.csv"\r\n'
                f"Content-Type: text/csv\r\n\r\n"
            ).encode()
            + payload(4000)
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        with portal.browser() as browser:
            page = browser.post("/evidence/upload", content=page_body, headers={**headers, "HX-Request": "true"})
        assert page.status_code == 503
        assert "evidence store cannot take files right now" in page.text

        health = httpx.get(portal.url + "/healthz", timeout=60)
        assert health.status_code == 503
        assert health.json()["store_write"]["status"] == "down"
        assert records(portal) == []
    if isinstance(portal.store, LocalStore):
        assert_invariant(portal)


def test_a_full_disk_answers_503_leaves_no_staging_file_and_healthz_says_so(portal: Portal) -> None:
    if not isinstance(portal.store, LocalStore):
        pytest.skip("a full disk is a local folder's failure")
    with mounted_tmpfs(portal.extra["store_root"], "size=4m"):
        assert push(portal, "small.csv", payload(100_000, seed=5)).status_code == 201
        response = push(portal, "large.csv", payload(8 * MiB, seed=6))
        assert response.status_code == 503, response.text
        assert "No space left on device" in response.json()["detail"]
        assert staging_files(portal) == []
        assert [e.original_filename for e in records(portal)] == ["small.csv"]

        filler = portal.extra["store_root"] / "filler"
        with filler.open("wb") as handle, pytest.raises(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
                os.fsync(handle.fileno())
        health = httpx.get(portal.url + "/healthz", timeout=60)
        assert health.status_code == 503 and health.json()["store_write"]["status"] == "down"
        filler.unlink()
        assert httpx.get(portal.url + "/healthz", timeout=60).status_code == 200
        assert_invariant(portal)


# --- the database fails after the object is written ----------------------------------------------

FAIL_INSERT = {
    "sqlite": [
        "CREATE TRIGGER refuse_evidence BEFORE INSERT ON evidence "
        "BEGIN SELECT RAISE(ABORT, 'injected database failure'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_evidence() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'injected database failure'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_evidence BEFORE INSERT ON evidence FOR EACH ROW EXECUTE FUNCTION refuse_evidence()",
    ],
}
UNDO_FAIL_INSERT = {
    "sqlite": ["DROP TRIGGER refuse_evidence"],
    "postgresql": ["DROP TRIGGER refuse_evidence ON evidence", "DROP FUNCTION refuse_evidence()"],
}


def run_sql(portal: Portal, statements: list[str]) -> None:
    with unit_of_work(portal.engine) as session:
        for statement in statements:
            session.execute(text(statement))


def test_database_failure_after_the_object_write_leaves_an_orphan_that_reconcile_removes(portal: Portal) -> None:
    dialect = portal.engine.dialect.name
    content = payload(50_000, seed=7)
    run_sql(portal, FAIL_INSERT[dialect])
    response = push(portal, "report.csv", content)
    assert response.status_code == 500
    assert records(portal) == []
    key = key_for(hashlib.sha256(content).hexdigest())
    assert portal.store.exists(key)  # the object was written before the record failed
    assert_invariant(portal)  # ...and is pending, not unaccounted for

    run_sql(portal, UNDO_FAIL_INSERT[dialect])
    assert reconcile_now(portal).removed == []  # the pending row protects it for a day
    report = reconcile_now(portal, now=utcnow() + PENDING_GRACE + timedelta(minutes=1))
    assert report.stale_pending == [key]
    assert [orphan.key for orphan in report.removed] == [key]
    assert not portal.store.exists(key)
    assert push(portal, "report.csv", content).status_code == 201
    assert_invariant(portal)


# --- a corrupted object ------------------------------------------------------------------------


def test_a_corrupted_object_is_never_served_as_authentic_and_an_upload_repairs_it(portal: Portal) -> None:
    small, large = payload(30_000, seed=8), payload(10 * MiB, seed=9)
    ids = {}
    for name, content in (("small.csv", small), ("large.csv", large)):
        response = push(portal, name, content)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    assert portal.cli("store", "verify").returncode == 0

    for content in (small, large):
        damage(portal.store, key_for(hashlib.sha256(content).hexdigest()), flip_one_byte(content))

    with portal.browser() as browser:
        # One chunk: verified before the response starts, so the client gets a clear error.
        response = browser.get(f"/evidence/{ids['small.csv']}/download")
        assert response.status_code == 500 and "corrupted" in response.text
        page = browser.get(f"/evidence/{ids['small.csv']}")
        assert page.status_code == 200 and 'data-integrity="corrupted"' in page.text
        # Several chunks: the download breaks off before its end; never a complete copy.
        received = bytearray()
        with pytest.raises(httpx.HTTPError):
            with browser.stream("GET", f"/evidence/{ids['large.csv']}/download") as streamed:
                assert streamed.status_code == 200
                for chunk in streamed.iter_bytes():
                    received += chunk
        assert len(received) < len(large)

    scrub = portal.cli("store", "verify")
    assert scrub.returncode == 1
    assert "corrupted" in scrub.stderr
    with portal.browser() as browser:
        dashboard = browser.get("/")
        assert 'data-integrity="corrupted"' in dashboard.text
        events = browser.get(f"/evidence/{ids['large.csv']}")
        assert 'data-integrity="corrupted"' in events.text

    # The collector pushes the same bytes again: the damaged object is re-written, not re-used.
    for name, content in (("small.csv", small), ("large.csv", large)):
        assert push(portal, name, content).status_code == 201
    assert portal.cli("store", "verify").returncode == 0
    with portal.browser() as browser:
        response = browser.get(f"/evidence/{ids['large.csv']}/download")
        assert response.status_code == 200 and response.content == large
        assert 'data-integrity="corrupted"' not in browser.get(f"/evidence/{ids['small.csv']}").text
    assert_invariant(portal)
    with unit_of_work(portal.engine) as session:
        actions = list(
            session.execute(
                text(
                    "SELECT action FROM audit_event WHERE action IN ('evidence.corrupted', 'evidence.repaired') ORDER BY id"
                )
            ).scalars()
        )
    assert actions.count("evidence.corrupted") == 2 and actions.count("evidence.repaired") == 2


# --- kill -9 mid-export ------------------------------------------------------------------------


def auditor_with_engagement(portal: Portal) -> tuple[int, str]:
    """An engagement over this year and a signed-in auditor assigned to it: (id, cookie)."""
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount
    from audit_portal.auth.passwords import hash_password
    from audit_portal.engagements.models import Engagement, EngagementAuditor

    now = utcnow()
    with unit_of_work(portal.engine) as session:
        auditor = UserAccount(
            username="auditor.export",
            role="auditor",
            password_hash=hash_password("x" * 20),
            password_changed_at=now,
            created_at=now,
            valid_until=now + timedelta(days=90),
        )
        engagement = Engagement(
            name="Surveillance audit",
            framework_key="iso27001-2022",
            period_start=now.date().replace(month=1, day=1),
            period_end=now.date().replace(month=12, day=31),
            created_at=now,
        )
        session.add_all([auditor, engagement])
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        started = sessions.start(session, user=auditor, stage=sessions.STAGE_SIGNED_IN, address="test")
        return engagement.id, started.cookie_value  # type: ignore[return-value]


def test_kill_9_mid_export_changes_nothing(local_portal: Portal) -> None:
    from audit_portal.auth import sessions

    portal = local_portal
    for number in range(3):
        body, headers = push_body(
            meta(requirements=["OPS-2/patches"]), f"patches-{number}.csv", payload(6 * MiB, seed=20 + number)
        )
        with portal.api() as client:
            assert client.post("/api/v1/evidence", content=body, headers=headers).status_code == 201
    engagement_id, cookie = auditor_with_engagement(portal)
    before = [(e.id, e.sha256) for e in records(portal)]

    with httpx.Client(base_url=portal.url, cookies={sessions.COOKIE_NAME: cookie}, timeout=120) as auditor:
        with pytest.raises(httpx.HTTPError):
            with auditor.stream("GET", f"/engagements/{engagement_id}/export.zip") as streamed:
                assert streamed.status_code == 200
                total = int(streamed.headers["content-length"])
                received = 0
                for chunk in streamed.iter_bytes():
                    received += len(chunk)
                    if received > 2 * MiB and portal.process and portal.process.poll() is None:
                        portal.kill9()
        assert received < total

    assert [(e.id, e.sha256) for e in records(portal)] == before
    assert_invariant(portal)
    portal.start()
    with httpx.Client(base_url=portal.url, cookies={sessions.COOKIE_NAME: cookie}, timeout=120) as auditor:
        complete = auditor.get(f"/engagements/{engagement_id}/export.zip")
    assert complete.status_code == 200 and len(complete.content) == int(complete.headers["content-length"])
    assert_invariant(portal)
