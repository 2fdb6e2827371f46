"""Fixtures of the evidence tests: the catalogue, a service token, multipart bodies, and (for the
large S3 upload) moto's S3 server from the store suite and a real HTTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any, Self

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from audit_portal.auth import tokens
from audit_portal.principals import Actor
from tests import factories
from tests.evidence_store.conftest import aws_env, make_s3_store, moto_server, s3_bucket  # noqa: F401

BOUNDARY = "evidence-test-boundary-7f3a"
COLLECTOR_INSTANCE = "backup-nas"


@pytest.fixture
def catalogue(session: Session) -> Session:
    return factories.load_catalogue(session, commit=True)


@pytest.fixture
def push_client(app: FastAPI, session: Session, catalogue: Session) -> Iterator[TestClient]:
    """A client holding a service token scoped to the collector instance ``backup-nas``."""
    issued = tokens.create(session, name="nas host", scopes=[COLLECTOR_INSTANCE], days=30, actor=Actor.system("test"))
    session.commit()
    with TestClient(app, base_url="http://testserver") as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        yield client


@pytest.fixture
def engaged_auditor(session: Session, make_user):  # type: ignore[no-untyped-def]
    """``engaged_auditor(start, end)``: an auditor assigned to an engagement over that period (an
    auditor sees only evidence collected within their engagements' periods)."""
    from audit_portal.clock import utcnow
    from audit_portal.engagements.models import Engagement, EngagementAuditor

    def make(start: date, end: date):  # type: ignore[no-untyped-def]
        auditor = make_user("auditor")
        engagement = Engagement(
            name=f"Audit {start}",
            framework_key="iso27001-2022",
            period_start=start,
            period_end=end,
            created_at=utcnow(),
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        session.flush()
        return auditor

    return make


def metadata(**fields: Any) -> dict[str, Any]:
    return {"title": "Nightly backup report", "collector_instance": COLLECTOR_INSTANCE, **fields}


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = BOUNDARY) -> tuple[bytes, dict[str, str]]:
    """A multipart body of (name, filename, content) parts, in the order given."""
    body = bytearray()
    for name, filename, content in parts:
        body += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def push_body(meta: dict[str, Any], filename: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    return multipart(("metadata", None, json.dumps(meta).encode()), ("file", filename, content))


class LiveServer:
    """The app under uvicorn on a free loopback port, in a thread, for real streamed requests."""

    def __init__(self, app: FastAPI) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
