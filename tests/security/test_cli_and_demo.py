from __future__ import annotations

import pytest
from rich.console import Console
from typer.testing import CliRunner

from audit_portal import migrate
from audit_portal.auth import passwords
from audit_portal.auth import service as auth_service
from audit_portal.auth.demo import add_demo_users
from audit_portal.cli import app as cli
from audit_portal.clock import utcnow
from audit_portal.db import make_engine, unit_of_work
from audit_portal.demo import DemoContext
from tests.support import fresh_database


@pytest.fixture
def cli_database(database_url, tmp_path, monkeypatch):
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        monkeypatch.setenv("AUDIT_PORTAL_DATABASE_URL", url)
        monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path / "data"))
        try:
            yield engine
        finally:
            engine.dispose()


def test_user_add_token_create_and_revoke(cli_database):
    runner = CliRunner()
    added = runner.invoke(cli, ["user", "add", "marie", "--role", "it", "--generate"])
    assert added.exit_code == 0, added.output
    password = added.output.split("password: ")[1].strip()
    with unit_of_work(cli_database) as session:
        assert passwords.verify_password(auth_service.user_named(session, "marie").password_hash, password)

    created = runner.invoke(cli, ["token", "create", "backup-host", "--scope", "restic-a", "--days", "30"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("apt_")
    revoked = runner.invoke(cli, ["token", "revoke", "1"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    from audit_portal.auth import tokens

    with unit_of_work(cli_database) as session:
        assert tokens.authenticate(session, secret) is None


def test_user_add_refuses_a_weak_password(cli_database):
    result = CliRunner().invoke(cli, ["user", "add", "marie", "--role", "it", "--password", "password1234"])
    assert result.exit_code == 1
    assert "common or breached" in result.output


def test_user_add_refuses_an_auditor_without_window(cli_database):
    result = CliRunner().invoke(cli, ["user", "add", "ext", "--role", "auditor", "--generate"])
    assert result.exit_code == 1 and "access window" in result.output


def test_user_totp_only_on_a_demo_database(cli_database):
    runner = CliRunner()
    runner.invoke(cli, ["user", "add", "boss", "--role", "admin", "--generate"])
    refused = runner.invoke(cli, ["user", "totp", "boss"])
    assert refused.exit_code == 1 and "not a demo database" in refused.output


def test_demo_users_of_each_role_can_sign_in(session, store, settings, client):
    import pyotp

    from tests.security.conftest import post_login

    context = DemoContext(session=session, store=store, settings=settings, now=utcnow(), console=Console(quiet=True))
    add_demo_users(context)
    session.commit()
    assert sorted(role for role, _, _ in context.logins) == ["admin", "auditor", "it", "management"]
    for role, username, password in context.logins:
        assert passwords.password_problems(password, username) == []
        user = auth_service.user_named(session, username)
        assert (user.totp_enabled_at is not None) == (role in ("admin", "auditor"))
    admin_login = next(login for login in context.logins if login[0] == "admin")
    response = post_login(client, admin_login[1], admin_login[2])
    assert response.headers["location"].startswith("/login/2fa")
    secret = auth_service.user_named(session, "admin").totp_secret
    page = client.get("/login/2fa")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    done = client.post(
        "/login/2fa",
        data={"code": pyotp.TOTP(secret).now(), "next": "/profile", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/profile"


def test_audit_verify_on_an_empty_log(cli_database):
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0 and "0 events" in result.output
