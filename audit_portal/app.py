"""The application factory: one place that wires settings, database, store, templates, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from audit_portal import __version__
from audit_portal.audit import keys as audit_keys
from audit_portal.audit.refusals import install_refusal_log
from audit_portal.config import Settings, get_settings
from audit_portal.coverage import rollup as coverage_rollup
from audit_portal.db import engine_for
from audit_portal.errors import install_error_handlers
from audit_portal.security import install_security
from audit_portal.store import build_store
from audit_portal.templating import STATIC_DIR, build_templates
from evidence_store import ObjectStore


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_secret_key()
    coverage_rollup.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from audit_portal.lifecycle import start_background, stop_background

        start_background(app)
        try:
            yield
        finally:
            stop_background(app)

    app = FastAPI(
        title="audit-portal",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or engine_for(settings)
    # The audit log's MAC key comes from these settings, not from whatever the environment holds.
    audit_keys.bind(app.state.engine, audit_keys.chain_key(settings))
    app.state.store = store or build_store(settings)
    app.state.templates = build_templates({"app_version": __version__})

    install_error_handlers(app)
    install_refusal_log(app)
    install_security(app, settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from audit_portal.routing import include_routers

    include_routers(app)
    return app
