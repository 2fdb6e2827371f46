"""``Cache-Control: no-store`` on every answer to a signed-in person or a service token, over
every route of the app the way test_matrix walks them (allowed and refused answers alike), and
on real pages, API answers and downloads; static files and anonymous pages stay cacheable."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from audit_portal.auth import tokens
from audit_portal.authz import COLLECTOR, MATRIX, Role, app_routes, route_action
from audit_portal.principals import Actor
from tests.security.test_matrix import _concrete

SIGNED_IN = [role.value for role in Role]


def _client(who: str, app, login_as, session) -> TestClient:  # type: ignore[no-untyped-def]
    if who == COLLECTOR:
        issued = tokens.create(session, name="cache", scopes=["any-instance"], days=1, actor=Actor.system("test"))
        return TestClient(
            app,
            base_url="http://testserver",
            follow_redirects=False,
            headers={"Authorization": f"Bearer {issued.secret}"},
        )
    return login_as(who)


def test_every_route_answers_credentials_with_no_store(app, login_as, session):
    """For each route and method: one principal the matrix allows and one it refuses."""
    checked = 0
    for route in app_routes(app):
        action = route_action(route)
        if action is None:
            continue
        allowed = [who for who in [*SIGNED_IN, COLLECTOR] if who in MATRIX[action]]
        refused = [who for who in [*SIGNED_IN, COLLECTOR] if who not in MATRIX[action]]
        for method in sorted((route.methods or set()) - {"HEAD"}):
            for who in allowed[:1] + refused[:1]:
                response = _client(who, app, login_as, session).request(method, _concrete(route.path))
                label = f"{method} {route.path} as {who}: {response.status_code}"
                assert response.headers.get("cache-control") == "no-store", label
                checked += 1
    assert checked > 100


def test_real_pages_api_answers_and_downloads_are_not_stored(app, login_as, session, store):
    from io import BytesIO

    from audit_portal.evidence import service as evidence_service
    from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource

    client = login_as("it")
    evidence = evidence_service.ingest(
        session,
        store,
        stream=BytesIO(b"rules reviewed"),
        filename="review.txt",
        meta=EvidenceMeta(title="Firewall review"),
        source=EvidenceSource.upload(client.user.id),
        max_bytes=1024,
        retention_years=1,
    )
    session.commit()
    for path in (
        "/",
        "/evidence",
        f"/evidence/{evidence.id}",
        f"/evidence/{evidence.id}/download",
        "/api/v1/evidence",
        "/profile",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["cache-control"] == "no-store", path


def test_static_files_and_anonymous_pages_stay_cacheable(app, login_as):
    signed_in = login_as("it")
    assert "no-store" not in signed_in.get("/static/portal.css").headers.get("cache-control", "")
    anonymous = TestClient(app)
    assert "no-store" not in anonymous.get("/healthz").headers.get("cache-control", "")


@pytest.mark.parametrize("path", ["/login/2fa"])
def test_half_way_through_sign_in_is_not_stored_either(app, session, make_user, path):
    """Between password and second factor the page can show the enrolment secret."""
    from audit_portal.auth import sessions

    user = make_user("it")
    started = sessions.start(session, user=user, stage=sessions.STAGE_SECOND_FACTOR, address="testclient")
    session.commit()
    client = TestClient(app, follow_redirects=False)
    client.cookies.set(sessions.COOKIE_NAME, started.cookie_value)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
