"""The console script as an operator runs it: a separate process, its exit code and its words."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("audit-portal")


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_PORTAL_")}
    return subprocess.run([str(CLI), *args], env={**clean_env, **env}, capture_output=True, text=True, timeout=timeout)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unknown_store_scheme_exits_with_one_clear_line(tmp_path):
    result = run_cli("check", env={"AUDIT_PORTAL_DATA_DIR": str(tmp_path), "AUDIT_PORTAL_STORE_URL": "ftp://x"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: AUDIT_PORTAL_STORE_URL: unknown scheme 'ftp'; use file://, s3:// or memory://"]


def test_unreachable_database_fails_check_and_serve(tmp_path):
    env = {
        "AUDIT_PORTAL_DATA_DIR": str(tmp_path),
        "AUDIT_PORTAL_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/none",
    }
    check = run_cli("check", env=env)
    assert check.returncode == 1
    assert "database  down" in check.stdout
    serve = run_cli("serve", "--port", str(closed_port()), env=env)
    assert serve.returncode == 2
    assert "AUDIT_PORTAL_DATABASE_URL: database unreachable" in serve.stderr


def test_migrate_then_check_on_a_fresh_data_dir(tmp_path):
    env = {"AUDIT_PORTAL_DATA_DIR": str(tmp_path)}
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision" in migrated.stdout
    check = run_cli("check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "audit-portal.db").exists()
