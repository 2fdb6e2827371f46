"""Behind a reverse proxy (AUDIT_PORTAL_TRUSTED_PROXIES) and sign-in throttling that a stranger
cannot use to lock an account's owner out (known devices)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from audit_portal.app import create_app
from audit_portal.audit.models import AuditEvent
from audit_portal.auth import devices
from audit_portal.config import Settings, load_settings
from audit_portal.db import get_session
from audit_portal.security import ANON_CSRF_COOKIE, new_anonymous_token
from tests.conftest import TEST_PASSWORD, TEST_SECRET_KEY
from tests.security.conftest import post_login

PROXY = ("10.20.0.5", 41000)  # the load balancer, on another host
CLIENT_ADDRESS = "203.0.113.9"
FORWARDED = {"X-Forwarded-For": CLIENT_ADDRESS, "X-Forwarded-Proto": "https"}


@pytest.fixture
def app_behind(settings, engine, session, store):  # type: ignore[no-untyped-def]
    """``app_behind(trusted)``: the app built with AUDIT_PORTAL_TRUSTED_PROXIES set to ``trusted``."""

    def build(trusted: list[str]):  # type: ignore[no-untyped-def]
        app = create_app(settings.model_copy(update={"trusted_proxies": trusted}), engine=engine, store=store)

        def test_session() -> Iterator:  # type: ignore[type-arg]
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

        app.dependency_overrides[get_session] = test_session
        return app

    return build


def _failed_sign_in_address(session) -> str | None:  # type: ignore[no-untyped-def]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id)).all()
    return events[-1].address


def test_forwarded_headers_from_a_trusted_proxy_give_client_address_https_and_hsts(app_behind, make_user, session):
    make_user("it", "it.ops")
    client = TestClient(
        app_behind(["10.20.0.0/16"]),
        base_url="http://portal.internal",
        client=PROXY,
        headers=FORWARDED,
        follow_redirects=False,
    )
    page = client.get("/login")
    assert "max-age=31536000" in page.headers.get("strict-transport-security", "")
    assert "; secure" in page.headers["set-cookie"].lower()  # the anonymous CSRF cookie
    # The test client talks plain HTTP to the app, as the proxy does, so it would not send the
    # Secure cookie back: hand it the form's token the way the browser (on HTTPS) would.
    token = new_anonymous_token(TEST_SECRET_KEY)
    form = TestClient(
        client.app,
        base_url="http://portal.internal",
        client=PROXY,
        headers=FORWARDED,
        follow_redirects=False,
        cookies={ANON_CSRF_COOKIE: token},
    )
    signed_in = form.post("/login", data={"username": "it.ops", "password": TEST_PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 303
    cookies = signed_in.headers.get_list("set-cookie")
    assert len(cookies) >= 2 and all("; secure" in cookie.lower() for cookie in cookies)
    form.post("/login", data={"username": "it.ops", "password": "wrong-password-here", "csrf_token": token})
    assert _failed_sign_in_address(session) == CLIENT_ADDRESS


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(app_behind, make_user, session):
    make_user("it", "it.ops")
    # the default: only loopback is trusted, and this peer is on another host
    client = TestClient(
        app_behind(["127.0.0.1", "::1"]),
        base_url="http://portal.internal",
        client=PROXY,
        headers=FORWARDED,
        follow_redirects=False,
    )
    page = client.get("/login")
    assert "strict-transport-security" not in page.headers
    assert "; secure" not in page.headers["set-cookie"].lower()
    post_login(client, "it.ops", "wrong-password-here")
    assert _failed_sign_in_address(session) == PROXY[0]


def test_throttling_counts_the_forwarded_client_not_the_proxy(app_behind, make_user):
    make_user("it", "it.ops")
    app = app_behind(["10.20.0.0/16"])
    attacker = TestClient(app, client=PROXY, headers={"X-Forwarded-For": "198.51.100.66"}, follow_redirects=False)
    for attempt in range(20):
        post_login(attacker, f"guess{attempt}", "wrong-password-here")
    assert post_login(attacker, "it.ops", TEST_PASSWORD).status_code == 429
    # Everyone else comes through the same proxy and is not locked out with the attacker.
    colleague = TestClient(app, client=PROXY, headers={"X-Forwarded-For": CLIENT_ADDRESS}, follow_redirects=False)
    assert post_login(colleague, "it.ops", TEST_PASSWORD).status_code == 303


def test_the_setting_reads_a_comma_separated_list_and_refuses_what_is_not_an_address(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path))
    assert Settings(data_dir=tmp_path).trusted_proxies == ["127.0.0.1", "::1"]
    monkeypatch.setenv("AUDIT_PORTAL_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,fd00::/8")
    assert load_settings().trusted_proxies == ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]
    monkeypatch.setenv("AUDIT_PORTAL_TRUSTED_PROXIES", "10.0.0.0/8,loadbalancer")
    with pytest.raises(Exception, match="AUDIT_PORTAL_TRUSTED_PROXIES: 'loadbalancer' is not an IP address"):
        load_settings()


# --- known devices ----------------------------------------------------------------------------


def _stranger_locks(client: TestClient, username: str) -> None:
    for _ in range(5):
        post_login(client, username, "wrong-password-here")
    assert post_login(client, username, TEST_PASSWORD).status_code == 429


def test_a_stranger_cannot_lock_the_admin_out_of_a_known_device(app, make_user):
    make_user("admin", "admin")
    stranger = TestClient(app, client=("198.51.100.66", 4000), follow_redirects=False)
    _stranger_locks(stranger, "admin")
    owner = TestClient(app, client=("192.0.2.10", 4000), follow_redirects=False)
    owner.cookies.set(devices.COOKIE_NAME, devices.issue(TEST_SECRET_KEY, "admin"), path="/login")
    answer = post_login(owner, "admin", TEST_PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login/2fa")
    # without the cookie (or with another account's) the lock holds
    assert (
        post_login(
            TestClient(app, client=("192.0.2.10", 4000), follow_redirects=False), "admin", TEST_PASSWORD
        ).status_code
        == 429
    )
    other = TestClient(app, client=("192.0.2.10", 4000), follow_redirects=False)
    other.cookies.set(devices.COOKIE_NAME, devices.issue(TEST_SECRET_KEY, "it.ops"), path="/login")
    assert post_login(other, "admin", TEST_PASSWORD).status_code == 429


def test_a_known_device_gets_its_own_five_tries(app, make_user):
    make_user("it", "it.ops")
    laptop = TestClient(app, follow_redirects=False)
    laptop.cookies.set(devices.COOKIE_NAME, devices.issue(TEST_SECRET_KEY, "it.ops"), path="/login")
    answers = [post_login(laptop, "it.ops", "wrong-password-here").status_code for _ in range(6)]
    assert answers == [400, 400, 400, 400, 429, 429]
    assert post_login(laptop, "it.ops", TEST_PASSWORD).status_code == 429
    # the device's failures do not lock the account for its other devices
    assert post_login(TestClient(app, follow_redirects=False), "it.ops", TEST_PASSWORD).status_code == 303


def test_signing_in_remembers_the_device_and_a_forged_cookie_counts_for_nothing(app, make_user):
    make_user("it", "it.ops")
    browser = TestClient(app, follow_redirects=False)
    signed_in = post_login(browser, "it.ops", TEST_PASSWORD)
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith(devices.COOKIE_NAME))
    assert "HttpOnly" in cookie and "Path=/login" in cookie
    remembered = devices.read(TEST_SECRET_KEY, browser.cookies.get(devices.COOKIE_NAME))
    assert remembered is not None and remembered.username == "it.ops"
    value = devices.issue(TEST_SECRET_KEY, "it.ops")
    assert devices.read("another-secret-key-of-sufficient-length", value) is None
    assert devices.read(TEST_SECRET_KEY, value.replace(value.split(".")[0], "YWRtaW4")) is None  # "admin"
