"""Bench: export a package of 1,000 evidence items from a real server and watch its memory.

Starts the portal with uvicorn in a subprocess on 127.0.0.1 against a temporary data directory
(SQLite and a LocalStore, the embedded default), seeds 1,000 evidence items through the evidence
service (real objects, a few hundred MiB in all), downloads the package with httpx streaming
while sampling the server's resident memory (/proc/<pid>/status: VmRSS, and VmHWM, the peak),
verifies the package offline with the key from /api/v1/signing-key, and prints the figures.

    .venv/bin/python bench/export.py [--items 1000] [--mib 300] [--keep]

Linux only (reads /proc). Not a test: it asserts nothing, it measures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
LIMIT_MIB = 150  # the bound on the server's peak RSS during an export


class GeneratedFile:
    """A file's bytes produced as they are read: distinct per item (so objects are not shared),
    and never all in the bench's memory."""

    def __init__(self, item: int, size: int) -> None:
        self._line = f"item {item:05d} host-{item % 7} backup snapshot {item * 7919:x} verified ok\n".encode()
        self._left = size

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        chunk = (self._line * (wanted // len(self._line) + 1))[:wanted]
        self._left -= len(chunk)
        return chunk


def item_sizes(items: int, total_mib: int) -> list[int]:
    """Mostly small files, a few large ones, as evidence folders look: ten items carry a third
    of the volume, the rest share the remainder with a spread of sizes."""
    total = total_mib * MIB
    large = max(1, items // 100)
    large_size = total // 3 // large
    small_total = total - large * large_size
    weights = [1 + (i * 37) % 9 for i in range(items - large)]
    unit = small_total // sum(weights)
    return [large_size] * large + [max(1, w * unit) for w in weights]


def seed(data_dir: Path, database_url: str, items: int, total_mib: int) -> tuple[int, str, int]:
    """Schema, catalogue, an auditor with a signed-in session, an engagement and the evidence.
    Returns (engagement id, session cookie value, evidence bytes)."""
    from sqlalchemy import select

    from audit_portal import migrate
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount
    from audit_portal.auth.passwords import hash_password
    from audit_portal.catalogue.models import Requirement
    from audit_portal.catalogue.service import load_catalogue
    from audit_portal.clock import utcnow
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.engagements.models import Engagement, EngagementAuditor
    from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
    from audit_portal.evidence.service import ingest
    from evidence_store import LocalStore

    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = LocalStore(data_dir / "evidence")
    now = utcnow()
    with unit_of_work(engine) as session:
        load_catalogue(session)
        auditor = UserAccount(
            username="bench.auditor", role="auditor", password_hash=hash_password("bench-password-not-used-42"),
            password_changed_at=now, created_at=now, valid_until=now + timedelta(days=30),
        )
        uploader = UserAccount(
            username="bench.it", role="it", password_hash=auditor.password_hash, password_changed_at=now, created_at=now,
        )
        session.add_all([auditor, uploader])
        session.flush()
        engagement = Engagement(
            name="Bench export", framework_key="iso27001-2022",
            period_start=(now - timedelta(days=365)).date(), period_end=now.date(), created_at=now,
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        requirement_keys = list(session.scalars(select(Requirement.key).order_by(Requirement.position, Requirement.id)))
        cookie = sessions.start(session, user=auditor, stage=sessions.STAGE_SIGNED_IN, address="127.0.0.1").cookie_value
        engagement_id, uploader_id = engagement.id, uploader.id
    sizes = item_sizes(items, total_mib)
    batch = 100
    for first in range(0, items, batch):
        with unit_of_work(engine) as session:
            for item in range(first, min(first + batch, items)):
                collected = now - timedelta(days=360 * (item + 1) / (items + 1), hours=1)
                ingest(
                    session, store, stream=GeneratedFile(item, sizes[item]), filename=f"evidence-{item:05d}.log",
                    meta=EvidenceMeta(
                        title=f"bench evidence {item}", collected_at=collected,
                        requirements=[requirement_keys[item % len(requirement_keys)]],
                    ),
                    source=EvidenceSource.upload(uploader_id), max_bytes=sizes[item] + 1, retention_years=1,
                )
    engine.dispose()
    return engagement_id, cookie, sum(sizes)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


@dataclass
class Sampler:
    """Samples the server's RSS while the download runs (VmHWM is the kernel's own peak; the
    samples show the curve)."""

    pid: int
    interval: float = 0.05
    highest_rss_kib: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.highest_rss_kib = max(self.highest_rss_kib, memory_kib(self.pid)["VmRSS"])
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:  # noqa: PYI034 - a plain class, never subclassed
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def start_server(data_dir: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUDIT_PORTAL_DATA_DIR": str(data_dir),
        "AUDIT_PORTAL_DATABASE_URL": database_url,
        "AUDIT_PORTAL_SCHEDULER_ENABLED": "false",
        "AUDIT_PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "audit_portal.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=data_dir, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer /healthz within 60 s")


def fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def baselines(package: Path, work: Path) -> dict[str, float]:
    """The same files zipped without the portal, timed in the same run: Python's zipfile
    (stored, as the export stores) and ``zip -0``; each then fsynced, as the download's file is
    written out. The files are the package's own members, extracted first (not timed)."""
    import zipfile

    source = work / "extracted"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(source)
    members = sorted(p for p in source.rglob("*") if p.is_file())
    figures = {}
    os.sync()
    target = work / "python-zipfile.zip"
    started = time.perf_counter()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for member in members:
            archive.write(member, member.relative_to(source).as_posix())
    fsync_file(target)
    figures["python zipfile"] = time.perf_counter() - started
    target.unlink()
    os.sync()
    target = work / "zip-0.zip"
    started = time.perf_counter()
    subprocess.run(["zip", "-0", "-q", "-r", str(target), "."], cwd=source, check=True)
    fsync_file(target)
    figures["zip -0"] = time.perf_counter() - started
    target.unlink()
    shutil.rmtree(source)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--mib", type=int, default=300, help="total evidence volume in MiB")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    arguments = parser.parse_args()

    from audit_portal.export.verify import report_lines, verify_package

    data_dir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-export-"))
    database_url = f"sqlite:///{data_dir / 'audit-portal.db'}"
    try:
        started = time.perf_counter()
        engagement_id, cookie, evidence_bytes = seed(data_dir, database_url, arguments.items, arguments.mib)
        print(f"seeded {arguments.items} evidence items, {evidence_bytes / MIB:.0f} MiB, in {time.perf_counter() - started:.1f} s")

        port = free_port()
        server = start_server(data_dir, database_url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, cookies={"portal_session": cookie}, timeout=600) as client:
                public_key = client.get("/api/v1/signing-key").text.encode("ascii")
                page = client.get(f"/engagements/{engagement_id}/export")
                page.raise_for_status()
                before = memory_kib(server.pid)
                target = data_dir / "package.zip"
                load = os.getloadavg()[0]
                os.sync()
                started = time.perf_counter()
                with (
                    Sampler(server.pid) as sampler,
                    target.open("wb") as sink,
                    client.stream("GET", f"/engagements/{engagement_id}/export.zip") as response,
                ):
                    response.raise_for_status()
                    announced = int(response.headers["content-length"])
                    for chunk in response.iter_bytes(1024 * 1024):
                        sink.write(chunk)
                    sink.flush()
                    os.fsync(sink.fileno())
                elapsed = time.perf_counter() - started
                after = memory_kib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

        size = target.stat().st_size
        started = time.perf_counter()
        result = verify_package(target, public_key)
        verify_seconds = time.perf_counter() - started
        peak_mib = after["VmHWM"] / 1024
        print(f"package: {size / MIB:.0f} MiB ({size} bytes; Content-Length announced {announced}), "
              f"{result.files_checked + 2} files, downloaded in {elapsed:.1f} s ({size / MIB / elapsed:.0f} MiB/s)")
        print(f"server RSS before the download: {before['VmRSS'] / 1024:.0f} MiB (peak so far {before['VmHWM'] / 1024:.0f} MiB)")
        print(f"server RSS during the download: highest sample {sampler.highest_rss_kib / 1024:.0f} MiB")
        print(f"server peak RSS (VmHWM) after the export: {peak_mib:.0f} MiB "
              f"({'under' if peak_mib < LIMIT_MIB else 'OVER'} the {LIMIT_MIB} MiB bound)")
        print(f"verify: {'intact' if result.intact else 'NOT INTACT'} in {verify_seconds:.1f} s")
        print(f"machine load (1 min) at the download: {load:.1f} on {os.cpu_count()} CPUs, "
              f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
        print(f"export (download + fsync): {elapsed:.2f} s")
        for name, seconds in baselines(target, data_dir).items():
            print(f"baseline {name} of the same files + fsync: {seconds:.2f} s; export speed = {seconds / elapsed:.2f} of it")
        for line in report_lines(result):
            print("  " + line)
    finally:
        if arguments.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
