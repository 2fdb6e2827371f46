from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from audit_portal.app import create_app
from audit_portal.db import make_engine
from evidence_store import MemoryStore, StoreUnavailable


class UnreachableStore(MemoryStore):
    def check(self) -> None:
        raise StoreUnavailable("s3 endpoint http://127.0.0.1:9 refused the connection")

    def check_writable(self) -> None:
        raise StoreUnavailable("s3 endpoint http://127.0.0.1:9 refused the connection")


def test_healthy_portal_reports_both_components(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["store"]["status"] == "ok"


def test_store_down_gives_503_naming_it_without_details_for_strangers(settings, engine):
    with TestClient(create_app(settings, engine=engine, store=UnreachableStore())) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "store": {"status": "down"},
        "database": {"status": "ok"},
        "store_write": {"status": "down"},
    }


def test_details_are_for_admins_only(app, session, login_as, settings, engine):
    """Anonymous callers and signed-in non-admins see ok/down; an admin also sees where the
    store is, the schema revision and a failure's text."""
    anonymous = TestClient(app).get("/healthz").json()
    assert anonymous == {
        "status": "ok",
        "database": {"status": "ok"},
        "store": {"status": "ok"},
        "store_write": {"status": "ok"},
    }
    for role in ("it", "auditor", "management"):
        assert login_as(role).get("/healthz").json() == anonymous
    admin = login_as("admin").get("/healthz").json()
    assert "schema" in admin["database"]["detail"] and admin["store"]["detail"]
    from audit_portal.db import get_session

    broken = create_app(settings, engine=engine, store=UnreachableStore())
    broken.dependency_overrides[get_session] = app.dependency_overrides[get_session]
    client = TestClient(broken, follow_redirects=False)
    client.cookies = login_as("admin").cookies
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["store"] == {
        "status": "down",
        "detail": "s3 endpoint http://127.0.0.1:9 refused the connection",
    }


def test_database_down_gives_503(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
    with TestClient(create_app(settings, engine=dead, store=MemoryStore())) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "down"
    assert response.json()["status"] == "unavailable"
