"""Database engine and the per-request unit of work.

Routes take ``SessionDep``; the dependency commits when the request succeeds and rolls back when
it raises. Services only flush. Nothing in the package holds a module-level session.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Table, event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling stays on: reads run outside a transaction and the
    # first write begins one. A transaction that began with a read would hold a WAL snapshot and
    # fail at once ("database is locked") when another connection has written since; starting
    # at the first write lets busy_timeout queue concurrent writers instead (the job lease and
    # the audit chain rely on it). Tests switch to explicit BEGIN for their per-test rollback.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


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
