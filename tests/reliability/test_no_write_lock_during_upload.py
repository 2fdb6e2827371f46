"""No request holds a database write transaction while bytes stream.

An upload is held open half-way (its bytes are in the store's staging area) while another
person signs in (password and second factor: writes), loads pages, and a collector pushes
evidence (a write). Everything succeeds, "database is locked" never reaches anyone, and the
held upload then completes. No timing is asserted: the machine is shared and loaded.
"""

from __future__ import annotations

import re
import socket
import uuid

import httpx

from audit_portal.auth import second_factor
from audit_portal.auth.models import UserAccount
from audit_portal.auth.passwords import hash_password
from audit_portal.clock import utcnow
from audit_portal.db import unit_of_work
from tests.evidence.conftest import push_body
from tests.reliability.conftest import PASSWORD, Portal, assert_invariant, records, wait_for
from tests.reliability.test_faults import meta, payload, push, staging_files

MiB = 1024 * 1024


def totp_user(portal: Portal) -> tuple[str, str]:
    secret = second_factor.new_secret()
    now = utcnow()
    username = f"auditor.{uuid.uuid4().hex[:6]}"
    with unit_of_work(portal.engine) as session:
        session.add(
            UserAccount(
                username=username,
                role="auditor",
                password_hash=hash_password(PASSWORD),
                password_changed_at=now,
                totp_secret=secret,
                totp_enabled_at=now,
                created_at=now,
                valid_until=now.replace(year=now.year + 1),
            )
        )
    return username, secret


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def sign_in(portal: Portal, username: str, secret: str) -> httpx.Client:
    client = httpx.Client(base_url=portal.url, timeout=120)
    login = client.get("/login")
    assert login.status_code == 200
    password_step = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(login)}
    )
    assert password_step.status_code == 303, password_step.text
    second = client.get(password_step.headers["location"])
    assert second.status_code == 200
    done = client.post("/login/2fa", data={"code": second_factor.current_code(secret), "csrf_token": csrf_of(second)})
    assert done.status_code == 303, done.text
    return client


def test_a_held_upload_delays_no_sign_in_page_or_push(local_portal: Portal) -> None:
    portal = local_portal
    username, secret = totp_user(portal)
    body, headers = push_body(meta(), "long-upload.csv", payload(12 * MiB, seed=11))
    host, port = portal.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as held:
        held.sendall(
            f"POST /api/v1/evidence HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {portal.token}\r\n"
            f"Content-Type: {headers['Content-Type']}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        held.sendall(body[: 6 * MiB])
        wait_for(lambda: staging_files(portal), "the held upload to stream into the store")

        person = sign_in(portal, username, secret)
        try:
            for path in ("/", "/evidence", "/catalogue", "/engagements"):
                page = person.get(path, follow_redirects=True)
                assert page.status_code == 200, (path, page.status_code, page.text[:300])
                assert "database is locked" not in page.text
        finally:
            person.close()
        with portal.browser() as it_person:
            assert it_person.get("/evidence").status_code == 200
        pushed = push(portal, "while-held.csv", payload(4000, seed=12))
        assert pushed.status_code == 201, pushed.text

        held.sendall(body[6 * MiB :])
        response = b""
        while chunk := held.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 201"), response[:500]
    assert sorted(e.original_filename for e in records(portal)) == ["long-upload.csv", "while-held.csv"]
    assert_invariant(portal)
