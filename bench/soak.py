"""Soak bench: two portal processes sharing one database and one evidence folder, under
concurrent uploads, page reads, collector pushes and reconcile runs. Not a test: it reports.

    .venv/bin/python bench/soak.py                      # SQLite (the default), 5 minutes
    .venv/bin/python bench/soak.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/soak.py --minutes 2 --uploaders 20 --readers 20

It sets up a throw-away portal (a fresh SQLite file, or a fresh schema in the given PostgreSQL
database; a local evidence folder), seeds the catalogue, signed-in sessions and a service
token, and starts ``uvicorn audit_portal.asgi:app`` twice (two processes, as two instances
behind a load balancer). Then, until the time is up:

* ``--uploaders`` people upload files of 64 KiB to 16 MiB through the upload page (one in five
  re-sends earlier bytes, so dedup is exercised), alternating between the two processes;
* ``--readers`` people load the dashboard, the evidence list and evidence pages;
* two collectors push small reports through the API;
* ``store reconcile --remove --grace-hours 0`` runs every 20 s, racing the uploads.

It reports the errors (any answer other than the expected one, and any "database is locked";
must be 0), the page latency (median, p95, max) while uploads run, the throughput, the machine's
load average, and the invariant at the end: every committed record has an intact object, every
object is referenced, pending, or reported by reconcile. Exit status 1 on any error or a broken
invariant.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit_portal import migrate  # noqa: E402
from audit_portal.auth import sessions, tokens  # noqa: E402
from audit_portal.auth.models import UserAccount  # noqa: E402
from audit_portal.auth.passwords import hash_password  # noqa: E402
from audit_portal.catalogue.service import load_catalogue  # noqa: E402
from audit_portal.cli import KEEP_ALIVE_SECONDS  # noqa: E402
from audit_portal.clock import utcnow  # noqa: E402
from audit_portal.db import make_engine, unit_of_work  # noqa: E402
from audit_portal.evidence import repository  # noqa: E402
from audit_portal.evidence.models import Evidence, PendingObject  # noqa: E402
from audit_portal.evidence.service import reconcile  # noqa: E402
from audit_portal.principals import Actor
from evidence_store import LocalStore  # noqa: E402
from evidence_store.base import sha256_from_key, sha256_of_object  # noqa: E402

KiB, MiB = 1024, 1024 * 1024
SIZES = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB]
INSTANCE = "soak-collector"
BOUNDARY = "soak-boundary-3b9e"
# The portals keep idle connections as 'audit-portal serve' does (KEEP_ALIVE_SECONDS), and the
# clients drop theirs sooner, as the shipped nginx configuration does (60 s): a client that re-used
# a connection the server was closing at that moment would get a reset.
LIMITS = httpx.Limits(keepalive_expiry=60.0)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: Counter[str] = field(default_factory=Counter)
    page_seconds: list[float] = field(default_factory=list)
    uploads: int = 0
    uploaded_bytes: int = 0
    pushes: int = 0
    reconciles: int = 0
    orphans_removed: int = 0

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what[:160]] += 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_database(url: str | None, folder: Path) -> tuple[str, str | None]:
    """(database URL, PostgreSQL schema to drop afterwards)."""
    if not url:
        return f"sqlite:///{folder / 'soak.db'}", None
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    ), schema


def seed(engine, people: int) -> tuple[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    with unit_of_work(engine) as session:
        load_catalogue(session)
        token = tokens.create(session, name="soak", scopes=[INSTANCE], days=1, actor=Actor.system("bench")).secret
        now = utcnow()
        password = hash_password("soak-bench-password-long-enough")
        signed_in = []
        for number in range(people):
            user = UserAccount(
                username=f"it.soak{number}", role="it", password_hash=password, password_changed_at=now, created_at=now
            )
            session.add(user)
            session.flush()
            started = sessions.start(session, user=user, stage=sessions.STAGE_SIGNED_IN, address="bench")
            signed_in.append((started.cookie_value, started.web_session.csrf_token))
    return token, signed_in


def start_portal(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "audit_portal.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--timeout-keep-alive",
            str(KEEP_ALIVE_SECONDS),
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/healthz", timeout=5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("a portal process did not start")


def form_body(title: str, filename: str, content: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n{title}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def push_body(number: int) -> bytes:
    meta = f'{{"title": "Soak push {number}", "collector_instance": "{INSTANCE}", "requirements": ["OPS-2/patches"]}}'
    content = f"host,status\nweb-{number % 7},ok\nrun,{number}\n".encode()
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{meta}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="push-{number}.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def text_payload(size: int, rng: random.Random) -> bytes:
    # Text (so it previews and is never mistaken for a program), not compressible.
    return rng.randbytes(size // 2).hex().encode()[:size]


def uploader(urls: list[str], session: tuple[str, str], deadline: float, tally: Tally, seed_number: int) -> None:
    rng = random.Random(seed_number)
    sent: list[bytes] = []
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "HX-Request": "true",
        "X-CSRF-Token": session[1],
    }
    clients = [
        httpx.Client(base_url=url, cookies={sessions.COOKIE_NAME: session[0]}, timeout=300, limits=LIMITS)
        for url in urls
    ]
    number = 0
    while time.monotonic() < deadline:
        content = rng.choice(sent) if sent and rng.random() < 0.2 else text_payload(rng.choice(SIZES), rng)
        sent = (sent + [content])[-3:]
        number += 1
        try:
            response = clients[number % 2].post(
                "/evidence/upload",
                content=form_body(f"Soak upload {seed_number}-{number}", f"soak-{number}.txt", content),
                headers=headers,
            )
        except httpx.HTTPError as error:
            tally.error(f"upload: {type(error).__name__}: {error}")
            continue
        if response.status_code != 200 or "HX-Redirect" not in response.headers:
            tally.error(f"upload answered {response.status_code}: {response.text[:120]}")
        else:
            with tally.lock:
                tally.uploads += 1
                tally.uploaded_bytes += len(content)


def reader(urls: list[str], session: tuple[str, str], deadline: float, tally: Tally, seed_number: int) -> None:
    rng = random.Random(1000 + seed_number)
    clients = [
        httpx.Client(base_url=url, cookies={sessions.COOKIE_NAME: session[0]}, timeout=120, limits=LIMITS)
        for url in urls
    ]
    number = 0
    while time.monotonic() < deadline:
        number += 1
        client = clients[number % 2]
        path = rng.choice(["/", "/evidence", "/evidence", "/catalogue/annex2/OPS-2"])
        try:
            if path == "/evidence" and rng.random() < 0.5:
                # Not timed and not counted as a page load: it only picks an item to open.
                found = client.get("/evidence?limit=20")
                if found.status_code != 200:
                    tally.error(f"page evidence answered {found.status_code}: {found.text[:120]}")
                    continue
                ids = [
                    line.split('"')[0]
                    for line in found.text.split('href="/evidence/')[1:]
                    if line.split('"')[0].isdigit()
                ]
                if ids:
                    path = f"/evidence/{rng.choice(ids)}"
            started = time.monotonic()
            response = client.get(path)
        except httpx.HTTPError as error:
            tally.error(f"page {path}: {type(error).__name__}: {error}")
            continue
        elapsed = time.monotonic() - started
        if response.status_code != 200 or "database is locked" in response.text:
            tally.error(f"page {path.split('/')[1]} answered {response.status_code}: {response.text[:120]}")
        else:
            with tally.lock:
                tally.page_seconds.append(elapsed)


def collector(urls: list[str], token: str, deadline: float, tally: Tally, seed_number: int) -> None:
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120, limits=LIMITS)
        for url in urls
    ]
    number = 0
    while time.monotonic() < deadline:
        number += 1
        try:
            response = clients[number % 2].post(
                "/api/v1/evidence",
                content=push_body(seed_number * 100_000 + number),
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
        except httpx.HTTPError as error:
            tally.error(f"push: {type(error).__name__}: {error}")
            continue
        if response.status_code != 201:
            tally.error(f"push answered {response.status_code}: {response.text[:120]}")
        else:
            with tally.lock:
                tally.pushes += 1
        time.sleep(1)


def reconciler(engine, store: LocalStore, deadline: float, tally: Tally) -> None:  # type: ignore[no-untyped-def]
    while time.monotonic() < deadline:
        time.sleep(20)
        try:
            with unit_of_work(engine) as session:
                report = reconcile(session, store, remove=True, grace=timedelta(0))
        except Exception as error:  # noqa: BLE001 - counted, the soak goes on
            tally.error(f"reconcile: {type(error).__name__}: {error}")
            continue
        with tally.lock:
            tally.reconciles += 1
            tally.orphans_removed += len(report.removed)


def invariant(engine, store: LocalStore) -> list[str]:  # type: ignore[no-untyped-def]
    broken = []
    with unit_of_work(engine) as session:
        referenced = set()
        for key, ids in repository.iter_store_keys(session):
            referenced.add(key)
            try:
                if sha256_of_object(store, key)[0] != sha256_from_key(key):
                    broken.append(f"evidence {ids}: object {key} damaged")
            except Exception as error:  # noqa: BLE001
                broken.append(f"evidence {ids}: object {key} unreadable ({error})")
        pending = set(session.scalars(select(PendingObject.store_key)))
        report = reconcile(session, store, remove=False, grace=timedelta(hours=24))
        reported = {orphan.key for orphan in report.orphans}
        broken += [
            f"{key} unaccounted for" for key in store.iter_keys("sha256/") if key not in referenced | pending | reported
        ]
        records = session.scalar(select(Evidence.id).order_by(Evidence.id.desc()).limit(1)) or 0
    return broken + ([] if records else ["no records at all"])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="", help="a PostgreSQL URL; empty: SQLite (the default)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument("--readers", type=int, default=20)
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="audit-portal-soak-"))
    database_url, schema = fresh_database(options.database, folder)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    token, signed_in = seed(engine, options.uploaders + options.readers)
    store = LocalStore(folder / "evidence")
    env = {
        **os.environ,
        "AUDIT_PORTAL_ENVIRONMENT": "test",
        "AUDIT_PORTAL_DATA_DIR": str(folder / "data"),
        "AUDIT_PORTAL_DATABASE_URL": database_url,
        "AUDIT_PORTAL_STORE_URL": store.root.as_uri(),
        "AUDIT_PORTAL_SECRET_KEY": "soak-bench-secret-key-long-enough-to-sign",
        "AUDIT_PORTAL_SCHEDULER_ENABLED": "false",
    }
    portals = [start_portal(env, folder / f"portal-{n}.log") for n in range(2)]
    urls = [url for _, url in portals]
    tally = Tally()
    # A bench thread that dies of an unexpected exception is an error too, not a quiet loss of load.
    threading.excepthook = lambda hook: tally.error(f"bench thread died: {hook.exc_type.__name__}: {hook.exc_value}")
    load_before = os.getloadavg()
    started = time.monotonic()
    deadline = started + options.minutes * 60
    threads = [
        threading.Thread(target=uploader, args=(urls, signed_in[n], deadline, tally, n))
        for n in range(options.uploaders)
    ]
    threads += [
        threading.Thread(target=reader, args=(urls, signed_in[options.uploaders + n], deadline, tally, n))
        for n in range(options.readers)
    ]
    threads += [threading.Thread(target=collector, args=(urls, token, deadline, tally, n)) for n in range(2)]
    threads.append(threading.Thread(target=reconciler, args=(engine, store, deadline, tally)))
    loads = []
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        loads.append(os.getloadavg()[0])
        time.sleep(5)
    elapsed = time.monotonic() - started
    for process, _ in portals:
        process.terminate()
        process.wait(timeout=30)
    broken = invariant(engine, store)
    engine.dispose()
    if schema:
        admin = make_engine(options.database)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    pages = tally.page_seconds
    print(
        f"database            {'PostgreSQL' if schema else 'SQLite (default)'}; 2 portal processes; local evidence folder"
    )
    print(
        f"ran                 {elapsed / 60:.1f} min: {options.uploaders} uploaders, {options.readers} readers, 2 collectors, reconcile every 20 s"
    )
    print(
        f"uploads             {tally.uploads} ({tally.uploaded_bytes / MiB:.0f} MiB, {tally.uploaded_bytes / MiB / elapsed:.1f} MiB/s)"
    )
    print(f"collector pushes    {tally.pushes}")
    print(
        f"page loads          {len(pages)}: median {statistics.median(pages) * 1000:.0f} ms, "
        f"p95 {percentile(pages, 0.95) * 1000:.0f} ms, max {max(pages) * 1000:.0f} ms"
        if pages
        else "page loads          0"
    )
    print(f"reconcile runs      {tally.reconciles} (orphans removed: {tally.orphans_removed})")
    print(f"errors              {sum(tally.errors.values())}")
    for what, count in tally.errors.most_common(10):
        print(f"  {count} x {what}")
    print(
        f"load average        before {load_before[0]:.1f}; during median {statistics.median(loads):.1f}, max {max(loads):.1f} "
        f"({os.cpu_count()} cores)"
    )
    tracebacks = sum(log.read_text(errors="replace").count("Traceback") for log in folder.glob("portal-*.log"))
    print(f"portal logs         {tracebacks} tracebacks ({folder})")
    print(f"invariant           {'holds' if not broken else 'BROKEN'}")
    for line in broken[:10]:
        print(f"  {line}")
    return 1 if broken or tally.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
