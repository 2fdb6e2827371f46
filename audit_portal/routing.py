"""Every router of the portal, in one list, so the app factory and the tests see the same set."""

from __future__ import annotations

from fastapi import FastAPI

from audit_portal.admin.routes import router as admin_router
from audit_portal.audit.routes import router as audit_router
from audit_portal.auth.routes import router as auth_router
from audit_portal.authz import Authorize
from audit_portal.catalogue.routes import router as catalogue_router
from audit_portal.collection.api import router as collection_api_router
from audit_portal.collection.instances_api import router as collection_instances_api_router
from audit_portal.collection.routes import router as collection_router
from audit_portal.coverage.api import router as coverage_api_router
from audit_portal.dashboard.routes import router as dashboard_router
from audit_portal.engagements.routes import router as engagements_router
from audit_portal.evidence.api import router as evidence_api_router
from audit_portal.evidence.routes import router as evidence_router
from audit_portal.export.routes import router as export_router
from audit_portal.findings.routes import router as findings_router
from audit_portal.health.routes import router as health_router
from audit_portal.notifications.routes import router as notifications_router
from audit_portal.reports.routes import router as reports_router
from audit_portal.requests.routes import router as requests_router
from audit_portal.soa.routes import router as soa_router
from audit_portal.sso.routes import router as sso_router


def include_routers(app: FastAPI) -> None:
    # /healthz answers load balancers and monitoring, which never sign in.
    app.include_router(health_router, dependencies=[Authorize("public")])
    for router in (
        auth_router,
        dashboard_router,
        admin_router,
        audit_router,
        catalogue_router,
        soa_router,
        evidence_router,
        evidence_api_router,
        reports_router,
        notifications_router,
        export_router,
        engagements_router,
        requests_router,
        findings_router,
        collection_router,
        collection_api_router,
        collection_instances_api_router,
        sso_router,
        coverage_api_router,
    ):
        app.include_router(router)
