"""Background work started with the server (the in-process collector scheduler, when enabled)."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.db import unit_of_work


def start_background(app: FastAPI) -> None:
    app.state.background = []
    settings = app.state.settings
    try:
        with unit_of_work(app.state.engine) as session:
            coverage_rollup.fill_if_empty(session)
    except OperationalError:
        # A database that is down at start must not keep the portal down: /healthz then says so,
        # and the rollup is filled on the next start (or by the rebuild command).
        logging.getLogger(__name__).warning("database unreachable at start; coverage rollup not checked")
    if settings.scheduler_enabled:
        from audit_portal.scheduler import CollectorScheduler

        scheduler = CollectorScheduler(
            app.state.engine, app.state.store, settings, tick_seconds=settings.scheduler_tick_seconds
        )
        scheduler.start()
        app.state.background.append(scheduler)


def stop_background(app: FastAPI) -> None:
    for worker in getattr(app.state, "background", []):
        worker.stop()
