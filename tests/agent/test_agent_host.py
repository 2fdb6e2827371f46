"""The agent as a host installs it: the wheel's agent set in a fresh virtual environment (no web
framework, database driver or portal template engine), pushing to a portal served by uvicorn on
127.0.0.1; the portal is stopped during one push and the spool delivers that run afterwards; a
replayed push is refused. Slow: it builds the wheel and installs it."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / "tests" / "collectors" / "recordings"
PORTAL_BIN = Path(sys.executable).parent
WAIT_SECONDS = 90
PORTAL_ONLY = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "psycopg-binary",
    "uvicorn",
    "jinja2-fragments",
    "typer",
    "rich",
    "boto3",
    "botocore",
    "weasyprint",
    "cryptography",
}

pytestmark = pytest.mark.slow


def run(argv: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agent-host")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "wheel", REPO])
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (root / "wheel").glob("audit_portal-*.whl")
    made = run([sys.executable, "-m", "venv", root / "venv"])
    assert made.returncode == 0, made.stderr
    installed = run([root / "venv" / "bin" / "python", "-m", "pip", "install", "-q", wheel])
    assert installed.returncode == 0, installed.stderr[-2000:]
    return root / "venv"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Portal:
    """The portal of the test: its own SQLite database, started and stopped with uvicorn."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIT_PORTAL_")}
        self.env.update(
            {
                "AUDIT_PORTAL_DATABASE_URL": f"sqlite:///{root / 'portal.db'}",
                "AUDIT_PORTAL_DATA_DIR": str(root / "data"),
                "AUDIT_PORTAL_SECRET_KEY": "agent-test-" + "k" * 40,
                "AUDIT_PORTAL_SCHEDULER_ENABLED": "false",
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str | Path) -> str:
        done = run([PORTAL_BIN / "audit-portal", *args], env=self.env, cwd=self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> None:
        log = (self.root / "uvicorn.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "audit_portal.asgi:app", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the portal did not start:\n" + (self.root / "uvicorn.log").read_text()[-2000:])
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def pushed_runs(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.root / "portal.db") as db:
            return db.execute(
                "SELECT status, trigger, push_id FROM collector_run WHERE instance_name = 'host-disks' ORDER BY id"
            ).fetchall()


INSTANCES = f"""
- name: host-disks
  collector: disk-encryption
  remote: true
  schedule: "0 7 * * *"
  timeout_seconds: 60
  config:
    inventory: [laptop-7]
    sources:
      - type: linux
        device: laptop-7
        path: {RECORDINGS / "disk-encryption" / "lsblk-laptop.json"}
        cryptsetup_status: {{nvme0n1p3_crypt: {RECORDINGS / "disk-encryption" / "cryptsetup-status-laptop.txt"}}}
"""


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    portal = Portal(tmp_path / "portal")
    portal.root.mkdir()
    (portal.root / "instances.yaml").write_text(INSTANCES)
    portal.cli("migrate")
    portal.cli("catalogue", "load")
    portal.cli("collectors", "import", portal.root / "instances.yaml")
    portal.token = portal.cli("token", "create", "agent-host", "--scope", "host-disks").strip().splitlines()[-1]  # type: ignore[attr-defined]
    try:
        yield portal
    finally:
        portal.stop()


def test_the_agent_set_has_no_portal_packages(agent_venv: Path) -> None:
    listed = run([agent_venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"])
    names = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "audit-portal" in names and "httpx" in names
    assert names & PORTAL_ONLY == set()
    helped = run([agent_venv / "bin" / "audit-portal", "collect", "run", "--help"])
    assert helped.returncode == 0 and "--push URL" in helped.stdout
    refused = run([agent_venv / "bin" / "audit-portal", "serve"])
    assert refused.returncode == 2 and "agent install" in refused.stderr


def test_push_spool_and_replay_against_uvicorn(agent_venv: Path, portal: Portal, tmp_path: Path) -> None:
    host = tmp_path / "host"
    spool, state = host / "spool", host / "state.json"
    agent = [agent_venv / "bin" / "audit-portal", "collect", "run"]
    where = ["--push", portal.url, "--config", portal.root / "instances.yaml", "--spool", spool, "--state", state]
    env = {**os.environ, "AUDIT_PORTAL_PUSH_TOKEN": portal.token}  # type: ignore[attr-defined]

    portal.start()
    first = run([*agent, "host-disks", *where], env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "run 1 ok, 3 artifact(s) pushed" in first.stdout

    portal.stop()
    second = run([*agent, "host-disks", *where], env=env)
    assert second.returncode == 75, second.stdout + second.stderr
    assert "1 run(s) stay spooled" in second.stderr
    [waiting] = [path for path in spool.iterdir() if path.is_dir() and path.name != "rejected"]
    kept = tmp_path / "captured"
    shutil.copytree(waiting, kept)  # what someone who copied the spool could try to replay

    portal.start()
    third = run([*agent, "--due", *where], env=env)  # nothing is due: it only delivers the spool
    assert third.returncode == 0, third.stdout + third.stderr
    assert "run 2 ok" in third.stdout
    assert [path for path in spool.iterdir() if path.name != "rejected"] == []
    runs = portal.pushed_runs()
    assert [(status, trigger) for status, trigger, _ in runs] == [("ok", "push"), ("ok", "push")]
    assert len({push_id for _, _, push_id in runs}) == 2

    shutil.copytree(kept, spool / kept.name.replace("captured", waiting.name))
    replay = run([*agent, "--due", *where], env=env)
    assert replay.returncode == 1 and "replayed push is refused" in replay.stderr
    assert len(portal.pushed_runs()) == 2
