from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from audit_portal.health.service import database_health, store_health, store_write_health
from audit_portal.principals import Role

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Database and store status; 503 when either is down. Needs no sign-in, so it tells a
    stranger only ok or down per dependency: what lies behind it (the store's location, the
    schema revision, an error's text) is for signed-in administrators."""
    components = [database_health(request.app.state.engine), store_health(request.app.state.store)]
    components.append(store_write_health(request.app.state.store))
    healthy = all(component.ok for component in components)
    principal = getattr(request.state, "principal", None)  # left by the router's Authorize("public")
    detailed = principal is not None and principal.role == Role.admin
    body = {
        "status": "ok" if healthy else "unavailable",
        **{
            c.name: {"status": "ok" if c.ok else "down", **({"detail": c.detail} if detailed else {})}
            for c in components
        },
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
