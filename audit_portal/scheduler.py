"""The in-process collector scheduler: a daemon thread started with the server (unless
``AUDIT_PORTAL_SCHEDULER_ENABLED=false``) that runs every due collector instance.

Several portal instances may each run a scheduler: the job lease in the database lets only one
of them run a given instance at a time, and the due check is repeated under the lease so an
instance another portal has just run is not run twice. A run that raises is logged and the
scheduler goes on with the next instance. Each pass also runs the management jobs that are due
(the daily coverage snapshot, the monthly report, the weekly digest), each under its own lease.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy.engine import Engine

from audit_portal.collection import service
from audit_portal.config import Settings
from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.db import unit_of_work
from audit_portal.trends.jobs import run_due_jobs
from evidence_store import ObjectStore

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0
MAX_RUNS_PER_TICK = 20  # the rest waits for the next tick, so stop() is never blocked for long


class CollectorScheduler:
    def __init__(
        self, engine: Engine, store: ObjectStore, settings: Settings, *, tick_seconds: float = TICK_SECONDS
    ) -> None:
        coverage_rollup.install()  # the scheduler's evidence writes keep the rollup too
        self._engine = engine
        self._store = store
        self._settings = settings
        self._tick_seconds = tick_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="collector-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            # A collector still running is abandoned with the daemon thread; its lease expires.
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # the database may be briefly away; try again next tick
                log.exception("collector scheduler tick failed")
            if self._stopping.is_set():
                break  # a stopping server starts no management job (a report takes a while)
            try:
                run_due_jobs(self._engine, self._store, self._settings, stopping=self._stopping)
            except Exception:
                log.exception("management jobs (snapshot, monthly report, digest) failed")
            self._stopping.wait(self._tick_seconds)

    def tick(self, now: datetime | None = None) -> list[service.RunReport]:
        """One pass: run every instance due at ``now`` (default: the clock)."""
        with unit_of_work(self._engine) as session:
            due = service.due_instances(session, now)
        reports = []
        for item in due[:MAX_RUNS_PER_TICK]:
            if self._stopping.is_set():
                break
            try:
                report = service.run_instance(
                    lambda: unit_of_work(self._engine),
                    self._store,
                    self._settings,
                    item.name,
                    trigger=item.trigger,
                    now=now,
                    only_if_due=True,
                )
            except Exception:
                log.exception("collector instance %s could not be run", item.name)
                continue
            reports.append(report)
            if report.run_id is not None:
                log.info("collector %s: run %s %s", item.name, report.run_id, report.status)
        return reports
