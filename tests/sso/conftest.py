"""A real OpenID provider for the single sign-on tests: node's oidc-provider (tests/sso/provider,
installed from npm by .ci/run or here on first use), started once per test session on 127.0.0.1,
and the portal configured to use it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from fastapi.testclient import TestClient

from audit_portal.config import Settings
from tests.conftest import TEST_SECRET_KEY

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID = "audit-portal"
CLIENT_SECRET = "portal-client-secret-for-tests"
PORTAL = "http://testserver"

ACCOUNTS = {
    "alice": {"preferred_username": "alice", "email": "alice@example.org", "groups": ["isms-it", "staff"]},
    "adam": {"preferred_username": "adam", "email": "adam@example.org", "groups": ["isms-admins"]},
    "ava": {"preferred_username": "ava.auditor", "email": "ava@audit.example", "groups": ["external-auditors"]},
    "nora": {"preferred_username": "nora", "email": "nora@example.org", "groups": ["marketing"]},
}
ROLE_MAPPING = {"isms-it": "it", "isms-admins": "admin", "external-auditors": "auditor", "board": "management"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningProvider:
    issuer: str

    def next_id_token(self, **claims: object) -> None:
        """The next token response carries an id token with these claims changed, signed with
        the provider's own key (``exp``/``iat`` in seconds from now)."""
        response = httpx.post(self.issuer + "/test/next-id-token", content=json.dumps(claims))
        assert response.status_code == 204


@pytest.fixture(scope="session")
def openid_provider() -> Iterator[RunningProvider]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the single sign-on tests (Debian: apt-get install -y nodejs)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, capture_output=True, timeout=600
        )
    port = _free_port()
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{PORTAL}/login/sso/callback"],
            "post_logout_redirect_uris": [f"{PORTAL}/login"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }
    ]
    env = {
        **os.environ,
        "PORT": str(port),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        "OIDC_CLIENTS": json.dumps(clients),
        "NODE_ENV": "test",
    }
    process = subprocess.Popen(
        [node, "provider.mjs"],
        cwd=PROVIDER_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        while first and first.strip() != "ready":
            if process.poll() is not None:
                break
            first = process.stdout.readline()
        if first.strip() != "ready":
            raise RuntimeError(f"the OpenID provider did not start: {first}{process.stdout.read()}")
        yield RunningProvider(f"http://127.0.0.1:{port}")
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def sso_options() -> dict[str, object]:
    """Overridden by a test that needs other settings (e.g. password sign-in off)."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str, openid_provider: RunningProvider, sso_options) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        store_url="memory://",
        secret_key=TEST_SECRET_KEY,
        scheduler_enabled=False,
        base_url=PORTAL,
        oidc_issuer=openid_provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_scopes="openid email profile groups",
        oidc_role_mapping=ROLE_MAPPING,
        **sso_options,
    )


def provider_sign_in(
    portal: TestClient,
    login: str,
    *,
    mfa: bool,
    next_path: str = "/evidence",
    deliver_to: TestClient | None = None,
) -> httpx.Response:
    """The browser's trip: the portal sends it to the provider, the user signs in there, the
    provider sends it back to the portal's callback (in ``deliver_to``, another browser, when
    given). Returns the callback's response."""
    start = portal.get(f"/login/sso?next={next_path}", follow_redirects=False)
    assert start.status_code == 303, start.text[:300]
    url = start.headers["location"]
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        for _ in range(10):
            if url.startswith(PORTAL):
                return (deliver_to or portal).get(url, follow_redirects=False)
            page = browser.get(url)
            if page.is_redirect:
                url = urljoin(url, page.headers["location"])
                continue
            action = re.search(r'action="([^"]+)"', page.text)
            assert page.status_code == 200 and action, page.text[:500]
            answer = browser.post(urljoin(url, action.group(1)), data={"login": login, "mfa": "1" if mfa else ""})
            assert answer.is_redirect, answer.text[:500]
            url = urljoin(url, answer.headers["location"])
    raise AssertionError("the provider never sent the browser back to the portal")


def portal_client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url=PORTAL, follow_redirects=False)
