"""One writer at a time per process on an SQLite file, served in arrival order.

SQLite has a single write lock per database file. A connection that finds it taken does not
queue: its busy handler sleeps and tries again, with sleeps growing to 100 ms. Under load a
writer that has slept is overtaken again and again by writers that just arrived and find the
lock free for a moment, so it can wait out the whole busy timeout while every transaction ahead
of it is short ("database is locked" after 30 s, measured by ``bench/soak.py``). Here the threads
of one process wait for their turn in a first-come, first-served queue in front of the lock, so
only one of them at a time contends for it with the other processes.

A connection joins the queue when it is about to start a write transaction: pysqlite begins one
before the first INSERT, UPDATE, DELETE or REPLACE outside a transaction. It leaves the queue when
that transaction ends (commit, rollback, close). Reads never queue: in WAL mode they run beside
the writer. The turn of a connection dropped without being closed is taken back, so one lost
connection cannot stop every writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

# What pysqlite opens a transaction for (its own test: the statement's first word).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# How often a waiting writer checks that the connection whose turn it is still writes.
_RECHECK_SECONDS = 1.0


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


class WriteQueue:
    """The queue of one database file in this process."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._waiting: deque[object] = deque()
        self._holder: weakref.ReferenceType[sqlite3.Connection] | None = None
        # The holder's transaction has begun (until then it is not in one, yet holds its turn).
        self._started = False

    def _free(self) -> bool:
        holder = self._holder() if self._holder is not None else None
        if holder is None:  # none, or dropped without being closed (its transaction rolled back)
            return True
        try:
            return self._started and not holder.in_transaction
        except sqlite3.ProgrammingError:  # closed
            return True

    def enter(self, connection: sqlite3.Connection, timeout: float) -> None:
        """Wait for this connection's turn; ``database is locked`` when it does not come within
        ``timeout`` seconds, as SQLite's own busy timeout would answer."""
        ticket = object()
        with self._condition:
            self._waiting.append(ticket)
            try:
                deadline = time.monotonic() + timeout
                while not (self._waiting[0] is ticket and self._free()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise sqlite3.OperationalError("database is locked")
                    self._condition.wait(min(remaining, _RECHECK_SECONDS))
                self._holder = weakref.ref(connection)
                self._started = False
            finally:
                self._waiting.remove(ticket)
                self._condition.notify_all()

    def started(self, connection: sqlite3.Connection) -> None:
        with self._condition:
            if self.holds(connection):
                self._started = True

    def leave(self, connection: sqlite3.Connection) -> None:
        with self._condition:
            if self._holder is not None and self._holder() is connection:
                self._holder = None
                self._condition.notify_all()

    def holds(self, connection: sqlite3.Connection) -> bool:
        return self._holder is not None and self._holder() is connection

    @property
    def waiting(self) -> int:
        """Writers waiting for their turn now."""
        with self._condition:
            return len(self._waiting)


_queues: dict[str, WriteQueue] = {}
_queues_lock = threading.Lock()


def queue_for(database: str) -> WriteQueue:
    """The queue of a database file, shared by every engine of this process that opens it."""
    key = str(Path(database).resolve())
    with _queues_lock:
        return _queues.setdefault(key, WriteQueue())


class QueuedCursor(sqlite3.Cursor):
    connection: QueuedConnection

    def execute(self, sql: str, parameters: Any = (), /) -> QueuedCursor:
        self.connection.before(sql)
        try:
            super().execute(sql, parameters)
        finally:
            self.connection.after()
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> QueuedCursor:
        self.connection.before(sql)
        try:
            super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.after()
        return self


class QueuedConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions wait in the file's :class:`WriteQueue`.
    Pass it as ``factory`` to ``sqlite3.connect`` with ``write_queue`` and ``queue_timeout`` set
    afterwards (:func:`attach`)."""

    write_queue: WriteQueue | None = None
    queue_timeout: float = 30.0

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or QueuedCursor)

    # pysqlite's own shortcuts make a plain cursor; these go through the queue like any other.
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, seq_of_parameters)

    def before(self, sql: str) -> None:
        queue = self.write_queue
        if queue is not None and not self.in_transaction and _is_write(sql) and not queue.holds(self):
            queue.enter(self, self.queue_timeout)

    def after(self) -> None:
        # A write that failed, or ran outside a transaction (autocommit), holds no turn; nor does a
        # transaction ended by a statement (COMMIT, ROLLBACK) rather than commit() or rollback().
        if self.write_queue is None:
            return
        if self.in_transaction:
            self.write_queue.started(self)
        else:
            self.write_queue.leave(self)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.write_queue is not None:
                self.write_queue.leave(self)


def attach(connection: Any, database: str, timeout: float) -> None:
    """Put a new connection of ``database`` in its file's queue (an in-memory database, which
    no other connection shares, is left alone)."""
    if isinstance(connection, QueuedConnection) and database and database != ":memory:":
        connection.write_queue = queue_for(database)
        connection.queue_timeout = timeout
