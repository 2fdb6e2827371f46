"""Fault injection: the portal as a real server process (uvicorn) on SQLite or PostgreSQL, with
a LocalStore folder or an S3Store on moto's HTTP server, seeded through the portal's services.

After every fault the same invariant is checked (:func:`assert_invariant`): every committed
record has an intact object, and every object is referenced, pending, or reported by reconcile.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from audit_portal import migrate
from audit_portal.auth import sessions, tokens
from audit_portal.auth.models import UserAccount
from audit_portal.auth.passwords import hash_password
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.db import make_engine, unit_of_work
from audit_portal.evidence import repository
from audit_portal.evidence.models import Evidence, PendingObject
from audit_portal.evidence.service import reconcile
from audit_portal.principals import Actor
from audit_portal.store import build_store
from evidence_store import ObjectNotFound, ObjectStore
from evidence_store.base import sha256_from_key, sha256_of_object
from tests.evidence_store.conftest import DUMMY_AWS_ENV, MotoServer, aws_env, moto_server  # noqa: F401
from tests.support import POSTGRES_URL, fresh_database

COLLECTOR_INSTANCE = "backup-nas"
PASSWORD = "granite-orchard-lantern-river-77"
STARTUP_POLLS = 300  # x 0.1 s
DATABASES = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
STORES = ["local", "s3"]


@dataclass
class Portal:
    """One portal process and what the test needs to talk to it and to inspect its state."""

    settings: Settings
    engine: Engine
    store: ObjectStore
    env: dict[str, str]
    log_path: Path
    token: str = ""
    cookie: str = ""
    csrf: str = ""
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Portal:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
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
            ],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        for _ in range(STARTUP_POLLS):
            if self.process.poll() is not None:
                raise RuntimeError(f"the portal exited at start: {self.log_path.read_text()[-2000:]}")
            try:
                httpx.get(self.url + "/healthz", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the portal did not answer within 30 s")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def api(self, **options: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=120, **options
        )

    def browser(self, **options: Any) -> httpx.Client:
        """A signed-in person (role it) as htmx would send requests."""
        return httpx.Client(
            base_url=self.url,
            cookies={sessions.COOKIE_NAME: self.cookie},
            headers={"X-CSRF-Token": self.csrf},
            timeout=120,
            **options,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "audit_portal.cli", *args],
            env={**self.env, "COLUMNS": "400"},
            capture_output=True,
            text=True,
            timeout=600,
        )


def portal_env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        **DUMMY_AWS_ENV,
        "AUDIT_PORTAL_ENVIRONMENT": "test",
        "AUDIT_PORTAL_DATA_DIR": str(settings.data_dir),
        "AUDIT_PORTAL_DATABASE_URL": settings.database_url,
        "AUDIT_PORTAL_STORE_URL": settings.store_url,
        "AUDIT_PORTAL_SECRET_KEY": settings.secret_key,
        "AUDIT_PORTAL_SCHEDULER_ENABLED": "false",
        "AUDIT_PORTAL_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "AUDIT_PORTAL_DATABASE_BUSY_TIMEOUT_SECONDS": str(settings.database_busy_timeout_seconds),
    }
    if settings.s3_endpoint_url:
        env["AUDIT_PORTAL_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
        env["AUDIT_PORTAL_S3_REGION"] = "us-east-1"
    return env


def seed(engine: Engine) -> tuple[str, str, str]:
    """The catalogue, a service token for the collector instance, and a signed-in it user."""
    with unit_of_work(engine) as session:
        load_catalogue(session)
        issued = tokens.create(
            session, name="nas host", scopes=[COLLECTOR_INSTANCE], days=30, actor=Actor.system("test")
        )
        now = utcnow()
        user = UserAccount(
            username=f"it.{uuid.uuid4().hex[:6]}",
            role="it",
            password_hash=hash_password(PASSWORD),
            password_changed_at=now,
            created_at=now,
        )
        session.add(user)
        session.flush()
        started = sessions.start(session, user=user, stage=sessions.STAGE_SIGNED_IN, address="test")
        return issued.secret, started.cookie_value, started.web_session.csrf_token


@pytest.fixture(params=[(db, store) for db in DATABASES for store in STORES], ids=lambda p: f"{p[0]}-{p[1]}")
def portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    """A seeded portal process; ``portal.extra["store_root"]`` is the local store's folder."""
    database, store_kind = request.param
    with fresh_database(database, tmp_path) as database_url:
        yield from _portal(request, tmp_path, database_url, store_kind)


def _portal(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, store_kind: str, **overrides: Any
) -> Iterator[Portal]:
    data_dir = tmp_path / "data"
    store_root = tmp_path / "evidence"
    options: dict[str, Any] = {}
    if store_kind == "s3":
        moto: MotoServer = request.getfixturevalue("moto_server")
        bucket = f"evidence-{uuid.uuid4().hex[:12]}"
        moto.client().create_bucket(Bucket=bucket)
        options = {"store_url": f"s3://{bucket}/portal", "s3_endpoint_url": moto.endpoint_url, "s3_region": "us-east-1"}
    else:
        options = {"store_url": store_root.as_uri()}
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        secret_key="reliability-secret-key-long-enough-to-sign",
        scheduler_enabled=False,
        max_upload_bytes=256 * 1024**2,
        **options,
        **overrides,
    )
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = build_store(settings)
    portal = Portal(
        settings,
        engine,
        store,
        portal_env(settings),
        tmp_path / "portal.log",
        extra={"store_root": store_root, "store_kind": store_kind},
    )
    portal.token, portal.cookie, portal.csrf = seed(engine)
    try:
        yield portal.start()
    finally:
        portal.stop()
        engine.dispose()


# --- the invariant ----------------------------------------------------------------------------


def assert_invariant(portal: Portal) -> None:
    """Every committed record has an intact object; every object is referenced, pending, or
    reported by reconcile (as an orphan)."""
    with unit_of_work(portal.engine) as session:
        referenced = set()
        for key, evidence_ids in repository.iter_store_keys(session):
            referenced.add(key)
            try:
                actual, _size = sha256_of_object(portal.store, key)
            except ObjectNotFound:
                pytest.fail(f"evidence {evidence_ids} is committed but its object {key} is gone")
            assert actual == sha256_from_key(key), f"evidence {evidence_ids}: object {key} is damaged"
        pending = set(session.scalars(select(PendingObject.store_key)))
        report = reconcile(session, portal.store, remove=False, grace=timedelta(hours=24))
        assert report.missing == []
        reported = {orphan.key for orphan in report.orphans}
        for key in portal.store.iter_keys("sha256/"):
            assert key in referenced or key in pending or key in reported, f"{key} is unaccounted for"


def records(portal: Portal) -> list[Evidence]:
    with unit_of_work(portal.engine) as session:
        return list(session.scalars(select(Evidence).order_by(Evidence.id)))


def reconcile_now(portal: Portal, *, remove: bool = True, now: datetime | None = None) -> Any:
    """What an operator's ``store reconcile --remove --grace-hours 0`` does, in-process."""
    with unit_of_work(portal.engine) as session:
        return reconcile(session, portal.store, remove=remove, grace=timedelta(0), now=now)


def wait_for(condition: Any, what: str, polls: int = 600) -> None:
    """Poll ``condition`` (bounded: 60 s); the machine is loaded, so no timing is asserted."""
    for _ in range(polls):
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture(params=DATABASES)
def local_portal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Portal]:
    """A seeded portal process with a local evidence folder, on each database."""
    with fresh_database(request.param, tmp_path) as database_url:
        yield from _portal(request, tmp_path, database_url, "local")
