"""Scale-out as an organisation runs it: nginx (Debian's package, with the shipped proxy
snippet) in front of two ``audit-portal serve`` processes sharing one PostgreSQL database and an
S3 store on moto's HTTP server.

What must hold: a user signs in through nginx and stays signed in whichever instance answers;
requests alternate between the instances; a 200 MiB upload streams through nginx without
touching its disk; a collector on the host pushes its run through nginx; and with both
schedulers ticking every second, a due collector and the monthly report job run exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from audit_portal import migrate
from audit_portal.auth import tokens
from audit_portal.auth.models import UserAccount
from audit_portal.auth.passwords import hash_password
from audit_portal.catalogue.service import load_catalogue
from audit_portal.clock import utcnow
from audit_portal.collection.models import CollectorInstance, CollectorRun
from audit_portal.collection.service import import_instances
from audit_portal.config import Settings
from audit_portal.db import make_engine, unit_of_work
from audit_portal.evidence.models import Evidence
from audit_portal.principals import Actor
from audit_portal.reports.models import ComplianceReport
from audit_portal.reports.service import previous_month
from tests.support import POSTGRES_URL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES_URL, reason="scale-out runs on PostgreSQL: set AUDIT_PORTAL_TEST_DATABASE_URL"),
    pytest.mark.skipif(
        shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
        reason="needs Debian's nginx (apt-get install -y nginx; .ci/run installs it)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
PROXY_SNIPPET = REPO / "deploy" / "nginx" / "audit-portal-proxy.conf"
RECORDINGS = REPO / "tests" / "collectors" / "recordings" / "apt"
CLI = Path(sys.executable).with_name("audit-portal")
MiB = 1024 * 1024
UPLOAD_BYTES = 200 * MiB
PASSWORD = "plum-harbour-violet-engine-42"
SECRET_KEY = "scale-out-secret-key-shared-by-both-instances"
BOUNDARY = "scale-out-boundary-7f3a"
START_SECONDS = 90  # an upper bound for a process to answer, on a loaded machine; not a measurement


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer: {log.read_text()[-2000:]}")


def instance_file() -> str:
    host = {
        "name": "web01",
        "os": "debian",
        "timezone": "UTC",
        "apt_history": [str(RECORDINGS / "history.log*")],
        "dpkg_log": [str(RECORDINGS / "dpkg.log")],
        "apt_list_upgradable": {"path": str(RECORDINGS / "apt-list-upgradable.txt")},
    }
    instances = [
        # Run by the portal's schedulers (due since the day before yesterday's 05:00).
        {"name": "patches-portal", "collector": "patches", "schedule": "0 5 * * *", "config": {"hosts": [host]}},
        # Run on the host and pushed through nginx.
        {"name": "patches-host", "collector": "patches", "remote": True, "config": {"hosts": [host]}},
    ]
    return json.dumps({"instances": instances})  # JSON is YAML


@pytest.fixture
def database() -> Iterator[str]:
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"scale_out_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        handle = log.open("w")
        process = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


def nginx_config(work: Path, listen: int, upstreams: list[int]) -> Path:
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in upstreams)
    user = "user root root;" if os.geteuid() == 0 else ""
    config = work / "nginx.conf"
    config.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {work}/logs/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    upstream audit_portal {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{listen};
        server_name localhost;
        # Which instance answered: only in the test's own server block.
        add_header X-Upstream $upstream_addr always;
        include {PROXY_SNIPPET};
    }}
}}
""")
    return config


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


class Upload:
    """A multipart body of ``size`` generated bytes, streamed with its exact Content-Length."""

    def __init__(self, size: int, instance: str) -> None:
        meta = json.dumps({"title": "200 MiB upload through nginx", "collector_instance": instance})
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{meta}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.log"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.size = size
        self.length = len(self.head) + size + len(self.tail)
        self.sha256 = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        line = b"2026-11-30T12:00:00Z backup job finished, 1834 files, 0 errors\n"
        block = line * (MiB // len(line) + 1)
        sent = 0
        counter = 0
        while sent < self.size:
            piece = (f"{counter:08d}".encode() + block[8:])[: min(MiB, self.size - sent)]
            self.sha256.update(piece)
            sent += len(piece)
            counter += 1
            yield piece
        yield self.tail


def test_two_instances_behind_nginx(tmp_path, database, moto_server, processes):
    bucket = f"evidence-{uuid.uuid4().hex[:10]}"
    # Without Object Lock: moto refuses the CopyObject that puts a multipart upload in place
    # under a retention period (real S3 accepts it); the store's contract suite covers locking.
    moto_server.client().create_bucket(Bucket=bucket)
    engine = make_engine(database)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        load_catalogue(session)
        now = utcnow()
        session.add(
            UserAccount(
                username="it.alex",
                role="it",
                password_hash=hash_password(PASSWORD),
                password_changed_at=now,
                created_at=now,
            )
        )
        operator = Settings(
            environment="test",
            data_dir=tmp_path / "operator",
            database_url=database,
            store_url="memory://",
            secret_key=SECRET_KEY,
            collector_path_roots=(RECORDINGS.resolve(),),
        )
        import_instances(session, instance_file(), settings=operator, actor=Actor.system("test"))
        session.execute(
            update(CollectorInstance)
            .where(CollectorInstance.name == "patches-portal")
            .values(created_at=now - timedelta(days=2))
        )
        push_token = tokens.create(
            session, name="web01", scopes=["patches-host"], days=1, actor=Actor.system("test")
        ).secret

    ports = [free_port(), free_port()]
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDIT_PORTAL_")},
        "AUDIT_PORTAL_DATABASE_URL": database,
        "AUDIT_PORTAL_STORE_URL": f"s3://{bucket}/evidence",
        "AUDIT_PORTAL_S3_ENDPOINT_URL": moto_server.endpoint_url,
        "AUDIT_PORTAL_S3_REGION": "us-east-1",
        "AUDIT_PORTAL_SECRET_KEY": SECRET_KEY,
        "AUDIT_PORTAL_TRUSTED_PROXIES": "127.0.0.1",
        "AUDIT_PORTAL_SCHEDULER_TICK_SECONDS": "1",
        "AUDIT_PORTAL_COLLECTOR_PATH_ROOTS": str(RECORDINGS.resolve()),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for number, port in enumerate(ports, start=1):
        env = {**base_env, "AUDIT_PORTAL_DATA_DIR": str(tmp_path / f"instance{number}")}
        processes.start(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / f"instance{number}.log"
        )
    proxy_port = free_port()
    work = tmp_path / "nginx"
    config = nginx_config(work, proxy_port, ports)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert subprocess.run([nginx, "-t", "-c", str(config), "-p", str(work)], capture_output=True).returncode == 0
    proxy = processes.start(
        [nginx, "-c", str(config), "-p", str(work)], os.environ.copy(), work / "logs" / "stdout.log"
    )
    for port, number in zip(ports, (1, 2)):
        wait_until_answers(
            f"http://127.0.0.1:{port}/healthz", processes.started[number - 1], tmp_path / f"instance{number}.log"
        )
    base = f"http://127.0.0.1:{proxy_port}"
    wait_until_answers(base + "/healthz", proxy, work / "logs" / "error.log")

    with httpx.Client(base_url=base, timeout=60) as browser:
        # Sign in through nginx: the form comes from one instance, the POST goes to the other.
        form = browser.get("/login")
        assert form.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        signed_in = browser.post(
            "/login", data={"username": "it.alex", "password": PASSWORD, "csrf_token": csrf, "next": "/"}
        )
        assert signed_in.status_code == 303, signed_in.text[:500]
        assert signed_in.headers["location"] == "/"
        assert {form.headers["x-upstream"], signed_in.headers["x-upstream"]} == {f"127.0.0.1:{p}" for p in ports}

        answered_by = []
        for _ in range(6):
            page = browser.get("/evidence")
            assert page.status_code == 200, page.text[:300]  # signed in on both instances
            assert "it.alex" in page.text
            answered_by.append(page.headers["x-upstream"])
        assert set(answered_by) == {f"127.0.0.1:{p}" for p in ports}
        assert all(first != second for first, second in zip(answered_by, answered_by[1:]))  # round robin

    # 200 MiB through nginx, streamed: nothing lands in nginx's client body folder.
    upload = Upload(UPLOAD_BYTES, "patches-host")
    peak_before = [peak_rss_mib(process.pid) for process in processes.started[:2]]
    started = time.monotonic()
    response = httpx.post(
        base + "/api/v1/evidence",
        content=iter(upload),
        headers={
            "Authorization": f"Bearer {push_token}",
            "Content-Length": str(upload.length),
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        timeout=httpx.Timeout(600.0),
    )
    assert response.status_code == 201, response.text[:500]
    assert response.json()["sha256"] == upload.sha256.hexdigest()
    # Figures for docs/deployment.md (shown with pytest -s); not assertions.
    peak_after = [peak_rss_mib(process.pid) for process in processes.started[:2]]
    growth = [after - before for before, after in zip(peak_before, peak_after)]
    print(
        f"\n200 MiB through nginx in {time.monotonic() - started:.1f} s; instances' peak RSS "
        f"{peak_after[0]:.0f} and {peak_after[1]:.0f} MiB, grown by {growth[0]:.0f} and {growth[1]:.0f} MiB"
    )
    # The portal streams the upload: the instance that took it never held it in memory.
    assert max(growth) < UPLOAD_BYTES / MiB / 2
    assert list((work / "body").iterdir()) == []
    assert "buffered to a temporary file" not in (work / "logs" / "error.log").read_text()
    with unit_of_work(engine) as session:
        stored = session.scalars(select(Evidence).where(Evidence.sha256 == upload.sha256.hexdigest())).one()
        assert stored.size == UPLOAD_BYTES

    # A collector on this host runs and pushes through nginx with its scoped token.
    instances = tmp_path / "instances.yaml"
    instances.write_text(instance_file())
    pushed = subprocess.run(
        [str(CLI), "collect", "run", "patches-host", "--push", base, "--token", push_token, "--config", str(instances)],
        env={k: v for k, v in os.environ.items() if not k.startswith("AUDIT_PORTAL_")},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert f"artifact(s) pushed to {base}" in pushed.stdout, pushed.stdout + pushed.stderr

    # Both schedulers have ticked every second for as long as the steps above took.
    assert all(process.poll() is None for process in processes.started)
    processes.stop_all()
    with unit_of_work(engine) as session:
        runs = session.execute(
            select(CollectorInstance.name, func.count(CollectorRun.id))
            .join(CollectorRun, CollectorRun.instance_id == CollectorInstance.id)
            .group_by(CollectorInstance.name)
        ).all()
        assert dict(runs) == {"patches-portal": 1, "patches-host": 1}
        # The monthly report job creates a report when none exists for last month: a second
        # run would add a second row (the daily snapshot replaces its day, so it cannot show it).
        reports = session.scalars(select(ComplianceReport.month)).all()
        assert reports == [previous_month(utcnow().date())]
    engine.dispose()
