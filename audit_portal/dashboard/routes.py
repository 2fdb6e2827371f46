"""The dashboard (``/``, every role's landing page) and the lists behind its figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from audit_portal.authz import Authorize, Principal, allowed
from audit_portal.clock import utcnow
from audit_portal.coverage.service import STATUS_LABELS as COVERAGE_LABELS
from audit_portal.dashboard import service
from audit_portal.db import SessionDep
from audit_portal.engagements import scope
from audit_portal.evidence import service as evidence_service
from audit_portal.request_actor import actor_of
from audit_portal.templating import render, request_language

router = APIRouter(tags=["dashboard"])

DashboardReader = Annotated[Principal, Authorize("dashboard:read")]
FindingsReader = Annotated[Principal, Authorize("findings:read")]
EngagementParam = Annotated[int | None, Query(alias="engagement")]


def _record_auditor_view(request: Request, session: SessionDep, principal: Principal, what: str) -> None:
    scope.record_access(
        session,
        actor=actor_of(request, principal),
        action="dashboard.view",
        object_type="dashboard",
        object_id=what,
        detail={"query": request.url.query},
    )


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, principal: DashboardReader, engagement_id: EngagementParam = None
) -> HTMLResponse:
    reader = scope.scope_of(session, principal)
    if engagement_id is None and not reader.unrestricted and reader.default_engagement() is None:
        # An auditor's landing page: their figures come from their engagements only.
        return render(request, "pages/dashboard/unassigned.html", {}, block="content")
    board = service.build_dashboard(session, engagement_id=engagement_id, scope=reader)
    _record_auditor_view(request, session, principal, "overview")
    target = request.app.state.settings.coverage_target_percent or None
    return render(
        request,
        "pages/dashboard/index.html",
        {
            "board": board,
            "trend_chart": service.trend_chart(board, target, request_language(request)),
            "trend_table": service.month_end_rows(board.trend.series),
            "group_charts": {
                key: service.group_chart(figure, target, request_language(request))
                for key, figure in board.frameworks.items()
            },
            "coverage_target": target,
            "may_read_findings": allowed("findings:read", principal.role),
            "corrupted": evidence_service.corrupted_summary(session),
            "coverage_labels": COVERAGE_LABELS,
        },
        block="content",
    )


@router.get("/dashboard/controls", response_class=HTMLResponse)
def control_list(
    request: Request,
    session: SessionDep,
    principal: DashboardReader,
    framework: str = service.FRAMEWORK_2022,
    status: str = service.APPLICABLE,
    group: str | None = None,
    engagement_id: EngagementParam = None,
) -> HTMLResponse:
    reader = scope.scope_of(session, principal)
    period = service.period_for(session, engagement_id=engagement_id, scope=reader)
    controls = service.control_list(
        session, framework_key=framework, status=status, group_key=group or None, period=period
    )
    _record_auditor_view(request, session, principal, "controls")
    return render(
        request,
        "pages/dashboard/controls.html",
        {
            "controls": controls,
            "framework": framework,
            "framework_label": service.FRAMEWORK_LABELS[framework],
            "status": status,
            "group": group,
            "period": period,
        },
        block="content",
    )


@router.get("/dashboard/slipped", response_class=HTMLResponse)
def slipped_list(
    request: Request,
    session: SessionDep,
    principal: DashboardReader,
    status: str = service.FAILING,
    engagement_id: EngagementParam = None,
) -> HTMLResponse:
    reader = scope.scope_of(session, principal)
    period = service.period_for(session, engagement_id=engagement_id, scope=reader)
    controls = service.slipped_list(session, status=status, period=period)
    _record_auditor_view(request, session, principal, "slipped")
    return render(
        request,
        "pages/dashboard/slipped.html",
        {"controls": controls, "status": status, "period": period},
        block="content",
    )


@router.get("/dashboard/expiring", response_class=HTMLResponse)
def expiring_list(
    request: Request, session: SessionDep, principal: DashboardReader, engagement_id: EngagementParam = None
) -> HTMLResponse:
    reader = scope.scope_of(session, principal)
    period = service.period_for(session, engagement_id=engagement_id, scope=reader)
    items = service.expiring_list(session, period=period, scope=reader)
    _record_auditor_view(request, session, principal, "expiring")
    return render(
        request,
        "pages/dashboard/expiring.html",
        {"items": items, "period": period, "window": service.EXPIRY_WINDOW_DAYS},
        block="content",
    )


@router.get("/dashboard/findings", response_class=HTMLResponse)
def finding_list(
    request: Request,
    session: SessionDep,
    principal: FindingsReader,
    severity: str | None = None,
    overdue: bool = False,
) -> HTMLResponse:
    findings = service.finding_list(
        session,
        severity=severity or None,
        overdue=overdue,
        today=utcnow().date(),
        scope=scope.scope_of(session, principal),
    )
    _record_auditor_view(request, session, principal, "findings")
    return render(
        request,
        "pages/dashboard/findings.html",
        {"findings": findings, "severity": severity, "overdue": overdue},
        block="content",
    )


@router.get("/dashboard/requests", response_class=HTMLResponse)
def request_list(
    request: Request,
    session: SessionDep,
    principal: DashboardReader,
    overdue: bool = False,
    engagement_id: EngagementParam = None,
) -> HTMLResponse:
    requests = service.request_list(
        session,
        overdue=overdue,
        today=utcnow().date(),
        engagement_id=engagement_id,
        scope=scope.scope_of(session, principal),
    )
    _record_auditor_view(request, session, principal, "requests")
    return render(
        request,
        "pages/dashboard/requests.html",
        {"requests": requests, "overdue": overdue, "may_open": allowed("requests:read", principal.role)},
        block="content",
    )


@router.get("/dashboard/collectors", response_class=HTMLResponse)
def collector_list(
    request: Request, session: SessionDep, principal: DashboardReader, show: str = "all"
) -> HTMLResponse:
    service.check_collector_view(show)
    health = service.collector_health(session, utcnow(), scope.scope_of(session, principal))
    _record_auditor_view(request, session, principal, "collectors")
    context = {
        "health": health,
        "show": show,
        "may_open": allowed("collectors:read", principal.role),
        "window": service.COLLECTOR_FAILURE_DAYS,
    }
    return render(request, "pages/dashboard/collectors.html", context, block="content")


@router.get("/dashboard/trend", response_class=HTMLResponse)
def trend_table(
    request: Request, session: SessionDep, principal: DashboardReader, engagement_id: EngagementParam = None
) -> HTMLResponse:
    reader = scope.scope_of(session, principal)
    period = service.period_for(session, engagement_id=engagement_id, scope=reader)
    rows = service.trend_rows(
        session, today=period.as_of, scope=reader, current=service.current_figures(session, period.as_of)
    )
    _record_auditor_view(request, session, principal, "trend")
    return render(
        request,
        "pages/dashboard/trend.html",
        {"rows": rows, "period": period, "frameworks": service.FRAMEWORKS, "labels": service.FRAMEWORK_LABELS},
        block="content",
    )
