"""Every router of the portal, in one list, so the app factory and the tests see the same set."""
from __future__ import annotations

from fastapi import FastAPI

from audit_portal.health.routes import router as health_router


def include_routers(app: FastAPI) -> None:
    for router in (health_router,):
        app.include_router(router)
