"""Database engine and the per-request unit of work.

Routes take ``SessionDep``; the dependency commits when the request succeeds and rolls back when
it raises. Services only flush. Nothing in the package holds a module-level session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Table, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, create_engine

from audit_portal import sqlite_writes
from audit_portal.sqlite_writes import QueuedConnection


def make_engine(database_url: str, *, busy_timeout_seconds: float = 30.0) -> Engine:
    """``busy_timeout_seconds``: how long an SQLite writer waits for the write lock (its turn in
    this process's queue, then the lock itself) before the request gives up with 503."""
    if database_url.startswith("sqlite"):
        database = make_url(database_url).database or ""
        engine = create_engine(
            database_url,
            connect_args={
                "check_same_thread": False,
                "timeout": busy_timeout_seconds,
                "factory": QueuedConnection,
            },
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connection(dbapi_connection, _record) -> None:
            _sqlite_pragmas(dbapi_connection, busy_timeout_seconds)
            sqlite_writes.attach(dbapi_connection, database, busy_timeout_seconds)

        return engine
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)

    @event.listens_for(engine, "connect")
    def _postgresql_connection(dbapi_connection, _record) -> None:
        _plan_each_execution(dbapi_connection)

    return engine


def _plan_each_execution(dbapi_connection) -> None:
    # psycopg prepares a statement on the server after its fifth execution, and PostgreSQL then
    # switches to a generic plan that ignores the parameters. For the period queries (a range of
    # collected_at, an engagement's rejections) the generic plan scans all the evidence: at 100,000
    # items the controls table went from 50 ms to 160 ms after a few requests, at 1,000,000 to over
    # a second. Planning with the actual values costs a fraction of a millisecond.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def engine_for(settings: Any) -> Engine:
    """The engine of a :class:`audit_portal.config.Settings`."""
    return make_engine(settings.database_url, busy_timeout_seconds=settings.database_busy_timeout_seconds)


def _sqlite_pragmas(dbapi_connection, busy_timeout_seconds: float) -> None:
    # pysqlite's own transaction handling stays on: reads run outside a transaction and the
    # first write begins one. A transaction that began with a read would hold a WAL snapshot and
    # fail at once ("database is locked") when another connection has written since; starting
    # at the first write lets busy_timeout queue concurrent writers instead (the job lease and
    # the audit chain rely on it). Tests switch to explicit BEGIN for their per-test rollback.
    # Writers of one process also wait in arrival order before they reach the lock
    # (audit_portal/sqlite_writes.py): SQLite's busy handler alone lets late writers overtake.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
    cursor.close()


def is_database_busy(error: BaseException) -> bool:
    """SQLite's write lock stayed taken for the whole busy timeout."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error: the one place that commits,
    used by request handling, the CLI, the scheduler and collector runs alike."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def separate_unit_of_work(request: Request) -> AbstractContextManager[Session]:
    """A unit of work apart from the request's own, made the way the request's is (a test's
    override included): for what must be kept when the request itself rolls back, such as the
    audit event of a refused access."""
    override = request.app.dependency_overrides.get(get_session)
    if override is not None:
        return contextmanager(override)()
    return unit_of_work(request.app.state.engine)


def optimize(session: Session) -> None:
    """SQLite's ``PRAGMA optimize``: refreshes the statistics the query planner uses."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA optimize"))


def get_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.engine) as session:
        yield session


# scope="function" commits before the response is sent, so a client never sees success for a
# transaction that then fails to commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def table_of(model: type[SQLModel]) -> Table:
    """The Table behind a table model, for aliases and dialect-specific statements."""
    return model.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation without declaring it
