"""The route x principal matrix: every route of the app, for anonymous, each role and a service
token, gets the answer authz.MATRIX says. A route that declares no Authorize fails here."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from audit_portal.auth import tokens
from audit_portal.authz import (
    ANONYMOUS,
    COLLECTOR,
    FRAMEWORK_ROUTES,
    MATRIX,
    Role,
    app_routes,
    route_action,
)
from audit_portal.principals import Actor

PRINCIPALS = [ANONYMOUS, *(role.value for role in Role), COLLECTOR]
DUMMY_PATH_VALUE = "999999"

# Every route an auditor may call is classified here, so a new one cannot forget its scope.
# SCOPED routes render (or change) engagement data and decide what an auditor sees through
# audit_portal/engagements/scope.py; tests/security/test_scope.py walks each of them as an
# auditor of another engagement. The others say why they hold no engagement data.
SCOPED = frozenset(
    {
        "GET /",
        "GET /dashboard/controls",
        "GET /dashboard/slipped",
        "GET /dashboard/expiring",
        "GET /dashboard/findings",
        "GET /dashboard/requests",
        "GET /dashboard/collectors",
        "GET /dashboard/trend",
        "GET /evidence",
        "GET /evidence/{evidence_id:int}",
        "GET /evidence/{evidence_id:int}/download",
        "GET /evidence/{evidence_id:int}/preview",
        "GET /api/v1/evidence",
        "GET /api/v1/evidence/{evidence_id}",
        "GET /reports",
        "GET /collectors",
        "GET /collectors/{name}",
        "GET /runs/{run_id}",
        "GET /findings",
        "GET /engagements",
        "GET /engagements/{engagement_id}",
        "GET /engagements/{engagement_id}/controls",
        "GET /engagements/{engagement_id}/measures",
        "GET /engagements/{engagement_id}/controls/{ref}",
        "POST /engagements/{engagement_id}/evidence/{evidence_id}/review",
        "GET /engagements/{engagement_id}/samples",
        "POST /engagements/{engagement_id}/samples",
        "GET /engagements/{engagement_id}/samples/{sample_id}",
        "POST /engagements/{engagement_id}/samples/{sample_id}/verify",
        "POST /engagements/{engagement_id}/samples/{sample_id}/items/{item_id}/result",
        "POST /engagements/{engagement_id}/samples/{sample_id}/conclude",
        "GET /engagements/{engagement_id}/samples/{sample_id}/sheet.xlsx",
        "GET /engagements/{engagement_id}/requests",
        "GET /engagements/{engagement_id}/requests/new",
        "POST /engagements/{engagement_id}/requests/new",
        "GET /engagements/{engagement_id}/requests/{request_id}",
        "POST /engagements/{engagement_id}/requests/{request_id}/state",
        "GET /engagements/{engagement_id}/findings",
        "GET /engagements/{engagement_id}/findings/new",
        "POST /engagements/{engagement_id}/findings/new",
        "GET /engagements/{engagement_id}/findings/{finding_id}/edit",
        "POST /engagements/{engagement_id}/findings/{finding_id}/edit",
        "GET /engagements/{engagement_id}/findings/{finding_id}",
        "POST /engagements/{engagement_id}/findings/{finding_id}/plan",
        "POST /engagements/{engagement_id}/findings/{finding_id}/remediate",
        "POST /engagements/{engagement_id}/findings/{finding_id}/verify",
        "GET /engagements/{engagement_id}/export",
        "GET /engagements/{engagement_id}/export.zip",
        "GET /engagements/{engagement_id}/clauses",
        "GET /api/v1/coverage/{framework}",
        "GET /api/v1/engagements/{engagement_id}/findings",
        "GET /api/v1/engagements/{engagement_id}/requests",
        "GET /engagements/{engagement_id}/controls/{ref}/requirements/{requirement_id}/occurrences",
        "POST /engagements/{engagement_id}/controls/{ref}/requirements/{requirement_id}/occurrences/review",
        "GET /engagements/{engagement_id}/soa-history",
        "GET /engagements/{engagement_id}/audit-events",
    }
)
NO_ENGAGEMENT_DATA = {
    "GET /healthz": "dependency status",
    "GET /login": "sign-in",
    "POST /login": "sign-in",
    "GET /login/2fa": "sign-in",
    "POST /login/2fa": "sign-in",
    "POST /logout": "sign-out",
    "GET /login/sso": "sign-in",
    "GET /login/sso/callback": "sign-in",
    "GET /profile": "one's own account",
    "POST /profile/password": "one's own account",
    "GET /profile/2fa": "one's own account",
    "POST /profile/2fa": "one's own account",
    "POST /profile/2fa/confirm": "one's own account",
    "POST /profile/2fa/recovery-codes": "one's own account",
    "POST /profile/2fa/disable": "one's own account",
    "POST /profile/settings": "one's own account",
    "GET /notifications": "one's own digest settings",
    "POST /notifications": "one's own digest settings",
    "GET /catalogue": "the frameworks' controls",
    "GET /catalogue/search": "the frameworks' controls",
    "GET /catalogue/{framework}": "the frameworks' controls",
    "GET /catalogue/{framework}/{ref}": "the frameworks' controls",
    "GET /soa": "the organisation's SoA",
    "GET /soa/export.csv": "the organisation's SoA",
    "GET /soa/export.xlsx": "the organisation's SoA",
    "GET /api/v1/signing-key": "the public key of the export signature",
    "GET /api/v1/collector-instances": "collector configuration (secrets masked), no evidence",
    "GET /api/v1/collector-instances/{name}": "collector configuration (secrets masked), no evidence",
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", DUMMY_PATH_VALUE, path)


def _refusal(response) -> str | None:  # type: ignore[no-untyped-def]
    """'anonymous' for a sign-in demand, 'forbidden' for 403, None when the request got through."""
    if response.status_code == 401:
        return "anonymous"
    if response.status_code == 303 and response.headers["location"].startswith("/login?next="):
        return "anonymous"
    if response.status_code == 403:
        return "forbidden"
    return None


def _client_for(who: str, app, login_as, session) -> TestClient:  # type: ignore[no-untyped-def]
    if who == ANONYMOUS:
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        client.get("/login")  # the sign-in form's double-submit token, so CSRF is not what refuses
        client.headers["X-CSRF-Token"] = client.cookies["portal_csrf"]
        return client
    if who == COLLECTOR:
        # coverage:read lets the token through the read API's scope check, so the matrix decides
        issued = tokens.create(
            session, name="matrix", scopes=["any-instance", "coverage:read"], days=1, actor=Actor.system("test")
        )
        return TestClient(
            app,
            base_url="http://testserver",
            follow_redirects=False,
            headers={"Authorization": f"Bearer {issued.secret}"},
        )
    return login_as(who)


def test_every_route_declares_an_action(app):
    undecided = [
        f"{sorted(route.methods or [])} {route.path}"
        for route in app_routes(app)
        if route_action(route) is None and route.path not in FRAMEWORK_ROUTES
    ]
    assert undecided == [], "routes without Authorize(...): " + ", ".join(undecided)


def test_every_declared_action_is_in_the_matrix(app):
    for route in app_routes(app):
        action = route_action(route)
        assert action is None or action in MATRIX


@pytest.mark.parametrize("who", PRINCIPALS)
def test_every_route_answers_each_principal_as_the_matrix_says(app, login_as, session, who):
    checked = 0
    for route in app_routes(app):
        action = route_action(route)
        if action is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            # A fresh client (and session) per request: a route may end the session (sign-out).
            client = _client_for(who, app, login_as, session)
            label = f"{method} {route.path} as {who} ({action})"
            try:
                response = client.request(method, _concrete(route.path))
            except Exception as error:  # noqa: BLE001 - name the route; the traceback alone does not
                pytest.fail(f"{label}: raised {error!r}")
            refusal = _refusal(response)
            assert response.status_code < 500, label
            if who in MATRIX[action]:
                assert refusal is None, f"{label}: allowed by the matrix, got {response.status_code}"
            elif who == ANONYMOUS:
                assert refusal == "anonymous", f"{label}: expected a sign-in demand, got {response.status_code}"
                if route.path.startswith("/api/"):
                    assert response.status_code == 401, label
            else:
                assert refusal == "forbidden", f"{label}: expected 403, got {response.status_code}"
            checked += 1
    assert checked > 0


def _auditor_routes(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        f"{method} {route.path}"
        for route in app_routes(app)
        if (action := route_action(route)) is not None and Role.auditor.value in MATRIX[action]
        for method in (route.methods or set()) - {"HEAD"}
    }


def test_every_route_open_to_auditors_is_classified_as_scoped_or_not(app):
    """A new route an auditor may call must join SCOPED (and so the walk of test_scope.py) or
    say why it holds no engagement data."""
    routes = _auditor_routes(app)
    unclassified = sorted(routes - SCOPED - set(NO_ENGAGEMENT_DATA))
    assert unclassified == [], "classify these routes in SCOPED or NO_ENGAGEMENT_DATA: " + ", ".join(unclassified)
    assert not SCOPED & set(NO_ENGAGEMENT_DATA)
    stale = sorted((SCOPED | set(NO_ENGAGEMENT_DATA)) - routes)
    assert stale == [], "classified routes that no longer exist (or are closed to auditors): " + ", ".join(stale)


def test_framework_routes_are_public(client):
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/docs").status_code == 200
