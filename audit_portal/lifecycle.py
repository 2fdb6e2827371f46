"""Background work started with the server (the in-process collector scheduler, when enabled)."""
from __future__ import annotations

from fastapi import FastAPI

from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.db import unit_of_work


def start_background(app: FastAPI) -> None:
    app.state.background = []
    settings = app.state.settings
    with unit_of_work(app.state.engine) as session:
        coverage_rollup.fill_if_empty(session)
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
