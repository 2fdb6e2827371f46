"""Shared fixtures: a real database per backend, a transaction rolled back after each test, and
the app built by its factory with the test session injected.

Tests run on SQLite always, and on PostgreSQL too when AUDIT_PORTAL_TEST_DATABASE_URL is set
(each run gets its own fresh schema, dropped at the end).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from audit_portal import migrate
from audit_portal.app import create_app
from audit_portal.config import Settings
from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.db import get_session, make_engine
from evidence_store import MemoryStore, ObjectStore
from tests import factories
from tests.support import POSTGRES_URL, fresh_database

# Browser fixtures (live server, Chromium) are shared by every folder that drives a browser.
pytest_plugins = ["tests.browser_fixtures"]

BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


# pysqlite starts transactions lazily and commits on its own around SAVEPOINT, so a test's
# "rolled back" outer transaction would keep whatever the code under test committed. In the test
# process, pysqlite's handling is off and SQLAlchemy emits BEGIN, so savepoints nest as they do
# on PostgreSQL (the recipe of SQLAlchemy's SQLite dialect documentation). Processes the tests
# start (the CLI, the lease test) run with the portal's own setting, see audit_portal/db.py.
@event.listens_for(Engine, "connect")
def _sqlite_without_implicit_transactions(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None


@event.listens_for(Engine, "begin")
def _sqlite_explicit_begin(connection) -> None:  # type: ignore[no-untyped-def]
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-signing"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    from audit_portal.audit import keys

    engine = make_engine(database_url)
    # Every session of the tests keeps the coverage rollup, as the app's and the CLI's do.
    coverage_rollup.install()
    # The key the app fixture's settings derive too (TEST_SECRET_KEY), for events written
    # through the session fixture without an app.
    keys.bind(engine, keys.derive_from_secret(TEST_SECRET_KEY))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test: commits made by
    the code under test only release savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        store_url="memory://",
        secret_key=TEST_SECRET_KEY,
        scheduler_enabled=False,
        # Host-managed collector instances may read files the tests write under tmp_path
        # (the data directory in it stays out of reach).
        collector_path_roots=(tmp_path,),
    )


@pytest.fixture
def store() -> ObjectStore:
    return MemoryStore()


@pytest.fixture
def catalogue(session: Session) -> Session:
    """The built-in catalogue; folders that need more of it override this through tests.factories."""
    return factories.load_catalogue(session)


@pytest.fixture
def app(settings: Settings, engine: Engine, session: Session, store: ObjectStore) -> FastAPI:
    app = create_app(settings, engine=engine, store=store)

    def test_session() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


# --- accounts and sign-in (tests/security, and any test that needs a signed-in user) ---------

TEST_PASSWORD = "plum-harbour-violet-engine-42"


@pytest.fixture(scope="session")
def test_password_hash() -> str:
    from audit_portal.auth.passwords import hash_password

    return hash_password(TEST_PASSWORD)


@pytest.fixture
def make_user(session: Session, test_password_hash: str):  # type: ignore[no-untyped-def]
    """``make_user(role, username=None, **columns)``: a user whose password is TEST_PASSWORD."""
    import itertools

    from audit_portal.auth.models import UserAccount
    from audit_portal.clock import utcnow

    counter = itertools.count(1)

    def make(role: str = "it", username: str | None = None, **columns: object) -> UserAccount:
        now = utcnow()
        if role == "auditor":
            columns.setdefault("valid_until", now.replace(year=now.year + 1))
        user = UserAccount(
            username=username or f"{role}.user{next(counter)}",
            role=role,
            password_hash=test_password_hash,
            password_changed_at=now,
            created_at=now,
            **columns,
        )
        session.add(user)
        # Committed (to a savepoint) as a real account would be: a request that fails and
        # rolls back must not take the test's own set-up with it.
        session.commit()
        return user

    return make


@pytest.fixture
def login_as(app: FastAPI, session: Session, make_user):  # type: ignore[no-untyped-def]
    """``login_as(role_or_user)``: a new TestClient signed in (2FA done) with the session's CSRF
    token sent as X-CSRF-Token on every request, as htmx does."""
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount

    clients: list[TestClient] = []

    def sign_in(who: str | UserAccount) -> TestClient:
        user = make_user(who) if isinstance(who, str) else who
        started = sessions.start(session, user=user, stage=sessions.STAGE_SIGNED_IN, address="testclient")
        session.commit()
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        client.cookies.set(sessions.COOKIE_NAME, started.cookie_value)
        client.headers["X-CSRF-Token"] = started.web_session.csrf_token
        client.user = user  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield sign_in
    for client in clients:
        client.close()
