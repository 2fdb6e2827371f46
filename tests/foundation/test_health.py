from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from audit_portal.app import create_app
from audit_portal.db import make_engine
from evidence_store import MemoryStore, StoreUnavailable


class UnreachableStore(MemoryStore):
    def check(self) -> None:
        raise StoreUnavailable("s3 endpoint http://127.0.0.1:9 refused the connection")


def test_healthy_portal_reports_both_components(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["store"]["status"] == "ok"


def test_store_down_gives_503_naming_it(settings, engine):
    with TestClient(create_app(settings, engine=engine, store=UnreachableStore())) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["store"] == {
        "status": "down",
        "detail": "s3 endpoint http://127.0.0.1:9 refused the connection",
    }
    assert response.json()["database"]["status"] == "ok"


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
