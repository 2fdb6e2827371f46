"""Fixtures of the security tests: a clock the test moves, and sign-in through the real forms."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from audit_portal import clock


class MovableClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    """Every module reads time through ``clock.utcnow()``, so this moves time for all of them."""
    movable = MovableClock(clock.utcnow())
    monkeypatch.setattr(clock, "utcnow", movable)
    return movable


def anonymous_csrf(client: TestClient) -> str:
    """The double-submit token the sign-in page hands out (also set as a cookie)."""
    response = client.get("/login")
    assert response.status_code == 200
    return client.cookies["portal_csrf"]


def post_login(client: TestClient, username: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    """Submit the sign-in form as a browser does: with the token the form was rendered with."""
    form = client.get("/login", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    data = {"username": username, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, follow_redirects=False)
