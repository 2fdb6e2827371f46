"""Bench: export the package of an engagement from a real server, against zipfile and zip -0.

Starts the portal with uvicorn in a subprocess on 127.0.0.1 against a temporary data directory
(SQLite and a LocalStore, the embedded default), seeds N evidence items (real, distinct objects in
the store; rows inserted in bulk), counts the SQL statements one export runs (in process, with an
engine event), then downloads the package ``--rounds`` times, each time with httpx streaming and
with curl (a Python client parses HTTP on the same two cores as the server; curl is what an
auditor's tools are like), while sampling the server's resident memory (/proc/<pid>/status:
VmRSS, and VmHWM, the peak, with its anonymous and mapped-file parts), verifies it
offline with the key from /api/v1/signing-key, and times, in the same run and as often, Python's
zipfile (stored) and ``zip -0`` writing the same files. Prints median and p95 of each, the ratios,
the peak RSS and the machine's load.

    .venv/bin/python bench/export.py [--items 10000] [--mib 1000] [--rounds 3] [--keep]

Seeding writes the objects straight into the store's content-addressed layout and syncs once at
the end (``store.put`` fsyncs each object: 100,000 of them would take most of an hour on a busy
disk); the export reads them through the store as always, re-hashing each.

Linux only (reads /proc). Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
LIMIT_MIB = 150  # the bound on the server's peak RSS during an export


def file_content(item: int, size: int) -> bytes:
    """Distinct bytes per item (so objects are not shared), text-like, as evidence logs are."""
    line = f"item {item:06d} host-{item % 7} backup snapshot {item * 7919:x} verified ok\n".encode()
    return (line * (size // len(line) + 1))[:size]


def item_sizes(items: int, total_mib: int) -> list[int]:
    """Mostly small files, a few large ones, as evidence folders look: one item in a hundred
    carries a share of a third of the volume, the rest share the remainder with a spread of sizes."""
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
    import hashlib

    from sqlalchemy import insert, select

    from audit_portal import migrate
    from audit_portal.auth import sessions
    from audit_portal.auth.models import UserAccount
    from audit_portal.auth.passwords import hash_password
    from audit_portal.catalogue.models import Control, Requirement
    from audit_portal.catalogue.service import load_catalogue
    from audit_portal.clock import utcnow
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.engagements.models import Engagement, EngagementAuditor
    from audit_portal.evidence.models import SOURCE_UPLOAD, Evidence, EvidenceRequirement
    from evidence_store import LocalStore
    from evidence_store.base import key_for

    engine = make_engine(database_url)
    migrate.upgrade(engine)
    store = LocalStore(data_dir / "evidence")
    objects = store.root / "objects"
    now = utcnow()
    with unit_of_work(engine) as session:
        load_catalogue(session)
        auditor = UserAccount(
            username="bench.auditor",
            role="auditor",
            password_hash=hash_password("bench-password-not-used-42"),
            password_changed_at=now,
            created_at=now,
            valid_until=now + timedelta(days=30),
        )
        uploader = UserAccount(
            username="bench.it",
            role="it",
            password_hash=auditor.password_hash,
            password_changed_at=now,
            created_at=now,
        )
        session.add_all([auditor, uploader])
        session.flush()
        engagement = Engagement(
            name="Bench export",
            framework_key="iso27001-2022",
            period_start=(now - timedelta(days=365)).date(),
            period_end=now.date(),
            created_at=now,
        )
        session.add(engagement)
        session.flush()
        session.add(EngagementAuditor(engagement_id=engagement.id, user_id=auditor.id))
        # The requirements that count for ISO 27001:2022: its own and the Annex 2 measures mapped
        # to it (the catalogue holds other frameworks too, whose evidence the package leaves out).
        requirement_ids = list(
            session.scalars(
                select(Requirement.id)
                .join(Control, Control.id == Requirement.control_id)
                .where(Control.framework_key.in_(("annex2", "iso27001-2022")))
                .order_by(Requirement.position, Requirement.id)
            )
        )
        cookie = sessions.start(session, user=auditor, stage=sessions.STAGE_SIGNED_IN, address="127.0.0.1").cookie_value
        engagement_id, uploader_id = engagement.id, uploader.id
    sizes = item_sizes(items, total_mib)
    batch = 5000
    for first in range(0, items, batch):
        rows, links = [], []
        for item in range(first, min(first + batch, items)):
            content = file_content(item, sizes[item])
            sha256 = hashlib.sha256(content).hexdigest()
            key = key_for(sha256)
            path = objects / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            evidence_id = item + 1
            rows.append(
                {
                    "id": evidence_id,
                    "title": f"bench evidence {item}",
                    "source_kind": SOURCE_UPLOAD,
                    "uploaded_by_id": uploader_id,
                    "collected_at": now - timedelta(days=360 * (item + 1) / (items + 1), hours=1),
                    "original_filename": f"evidence-{item:06d}.log",
                    "content_type": "text/plain",
                    "size": len(content),
                    "sha256": sha256,
                    "store_key": key,
                    "created_at": now,
                    "integrity": "ok",
                    "legal_hold": False,
                }
            )
            links.append({"evidence_id": evidence_id, "requirement_id": requirement_ids[item % len(requirement_ids)]})
        with unit_of_work(engine) as session:
            session.execute(insert(Evidence), rows)
            session.execute(insert(EvidenceRequirement), links)
    os.sync()
    with unit_of_work(engine) as session:
        session.execute(text("ANALYZE"))
    engine.dispose()
    if not store.exists(key):
        raise SystemExit("seeding wrote objects outside the store's layout")
    return engagement_id, cookie, sum(sizes)


def export_statements(database_url: str, data_dir: Path, engagement_id: int) -> tuple[int, int]:
    """(SQL statements, packaged files) of one export built in process, the archive streamed to
    nowhere: the count must depend on the number of controls, not of items."""
    from sqlalchemy import event

    from audit_portal.config import Settings
    from audit_portal.db import make_engine, unit_of_work
    from audit_portal.export import service
    from audit_portal.export.package import archive_stream
    from audit_portal.principals import Actor
    from evidence_store import LocalStore

    settings = Settings(data_dir=data_dir, database_url=database_url)  # type: ignore[call-arg]
    engine = make_engine(database_url)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        with unit_of_work(engine) as session:
            package = service.export(session, settings, actor=Actor.system("bench"), engagement_id=engagement_id)
            for _ in archive_stream(package, LocalStore(data_dir / "evidence")):
                pass
            package.close()
            return statements, package.file_count
    finally:
        engine.dispose()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[name] = int(rest.split()[0])
    return values


@dataclass
class Sampler:
    """Samples the server's RSS while the download runs (VmHWM is the kernel's own peak; the
    samples show the curve), and apart from it the anonymous memory: what the process allocated
    itself, as against the file pages it maps (the manifest is mapped to be signed; those pages
    are the page cache's, written a moment before, not memory the export takes anew)."""

    pid: int
    interval: float = 0.05
    highest_rss_kib: int = 0
    highest_anonymous_kib: int = 0
    highest_file_kib: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            memory = memory_kib(self.pid)
            self.highest_rss_kib = max(self.highest_rss_kib, memory["VmRSS"])
            self.highest_anonymous_kib = max(self.highest_anonymous_kib, memory["RssAnon"])
            self.highest_file_kib = max(self.highest_file_kib, memory["RssFile"])
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
        [
            sys.executable,
            "-m",
            "uvicorn",
            "audit_portal.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=data_dir,
        env=env,
    )
    deadline = time.monotonic() + 300  # a busy shared machine takes a while to import the app
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
    raise SystemExit("the server did not answer /healthz within 300 s")


def fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def zipfile_seconds(source: Path, members: list[Path], target: Path) -> float:
    import zipfile

    os.sync()
    started = time.perf_counter()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for member in members:
            archive.write(member, member.relative_to(source).as_posix())
    fsync_file(target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def zip0_seconds(source: Path, target: Path) -> float:
    os.sync()
    started = time.perf_counter()
    subprocess.run(["zip", "-0", "-q", "-r", str(target), "."], cwd=source, check=True)
    fsync_file(target)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def download_seconds(client: httpx.Client, engagement_id: int, target: Path) -> tuple[float, int]:
    """The download as httpx receives it: a Python client, whose own HTTP parsing (h11) shares
    the machine's two cores with the server."""
    os.sync()
    started = time.perf_counter()
    with target.open("wb") as sink, client.stream("GET", f"/engagements/{engagement_id}/export.zip") as response:
        response.raise_for_status()
        announced = int(response.headers["content-length"])
        for chunk in response.iter_bytes(1024 * 1024):
            sink.write(chunk)
        sink.flush()
        os.fsync(sink.fileno())
    return time.perf_counter() - started, announced


def curl_seconds(base: str, cookie: str, engagement_id: int, target: Path) -> float:
    """The download as an auditor's tool receives it: curl, as a browser would, in C."""
    os.sync()
    started = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "--fail",
            "--silent",
            "--show-error",
            "--cookie",
            f"portal_session={cookie}",
            "--output",
            str(target),
            f"{base}/engagements/{engagement_id}/export.zip",
        ],
        check=True,
    )
    fsync_file(target)
    return time.perf_counter() - started


def line(name: str, values: list[float]) -> str:
    return f"{name:<42} median {statistics.median(values):7.2f} s   p95 {p95(values):7.2f} s   ({len(values)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--mib", type=int, default=1000, help="total evidence volume in MiB")
    parser.add_argument("--rounds", type=int, default=3, help="exports and baselines, interleaved")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument(
        "--no-statements",
        action="store_true",
        help="skip the in-process export that counts the SQL statements (it depends on the controls, not the items)",
    )
    arguments = parser.parse_args()

    from audit_portal.export.verify import report_lines, verify_package

    data_dir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-export-"))
    database_url = f"sqlite:///{data_dir / 'audit-portal.db'}"
    try:
        started = time.perf_counter()
        engagement_id, cookie, evidence_bytes = seed(data_dir, database_url, arguments.items, arguments.mib)
        print(
            f"seeded {arguments.items} evidence items, {evidence_bytes / MIB:.0f} MiB, in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        statements: int | str = "not counted"
        if not arguments.no_statements:
            statements, files = export_statements(database_url, data_dir, engagement_id)
            print(f"one export: {statements} SQL statements for {files} files", flush=True)

        port = free_port()
        server = start_server(data_dir, database_url, port)
        target = data_dir / "package.zip"
        exports: list[float] = []
        curls: list[float] = []
        zipfiles: list[float] = []
        zip0s: list[float] = []
        loads: list[float] = []
        source = data_dir / "extracted"
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, cookies={"portal_session": cookie}, timeout=1800) as client:
                public_key = client.get("/api/v1/signing-key").text.encode("ascii")
                page = client.get(f"/engagements/{engagement_id}/export")
                page.raise_for_status()
                before = memory_kib(server.pid)
                with Sampler(server.pid) as sampler:
                    for round_number in range(1, arguments.rounds + 1):
                        loads.append(os.getloadavg()[0])
                        elapsed, announced = download_seconds(client, engagement_id, target)
                        exports.append(elapsed)
                        curls.append(curl_seconds(base, cookie, engagement_id, data_dir / "curl.zip"))
                        if (data_dir / "curl.zip").stat().st_size != announced:
                            raise SystemExit("curl received a package of another length than announced")
                        (data_dir / "curl.zip").unlink()
                        if round_number == 1:
                            size = target.stat().st_size
                            verify_started = time.perf_counter()
                            result = verify_package(target, public_key)
                            verify_seconds = time.perf_counter() - verify_started
                            import zipfile

                            with zipfile.ZipFile(target) as archive:
                                archive.extractall(source)
                            members = sorted(p for p in source.rglob("*") if p.is_file())
                        zipfiles.append(zipfile_seconds(source, members, data_dir / "python-zipfile.zip"))
                        zip0s.append(zip0_seconds(source, data_dir / "zip-0.zip"))
                        print(
                            f"round {round_number}: export {exports[-1]:.2f} s (curl {curls[-1]:.2f} s), zipfile {zipfiles[-1]:.2f} s, "
                            f"zip -0 {zip0s[-1]:.2f} s, load {loads[-1]:.1f}",
                            flush=True,
                        )
                after = memory_kib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

        peak_mib = after["VmHWM"] / 1024
        export = statistics.median(exports)
        print()
        print(
            f"package: {size / MIB:.0f} MiB ({size} bytes; Content-Length announced {announced}), "
            f"{result.files_checked + 2} files, {arguments.items} items; verify: "
            f"{'intact' if result.intact else 'NOT INTACT'} in {verify_seconds:.1f} s"
        )
        print(
            f"machine load (1 min): median {statistics.median(loads):.1f}, max {max(loads):.1f} on "
            f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
        )
        print(line("export (download + fsync)", exports) + f"   {size / MIB / export:.0f} MiB/s")
        by_curl = statistics.median(curls)
        print(line("export, downloaded by curl (+ fsync)", curls) + f"   {size / MIB / by_curl:.0f} MiB/s")
        print(
            line("baseline python zipfile + fsync", zipfiles)
            + f"   export = {statistics.median(zipfiles) / export:.2f} of it"
        )
        print(line("baseline zip -0 + fsync", zip0s) + f"   export = {statistics.median(zip0s) / export:.2f} of it")
        print(
            f"{'the same ratios with curl as the client':<42} export = {statistics.median(zipfiles) / by_curl:.2f} of "
            f"zipfile, {statistics.median(zip0s) / by_curl:.2f} of zip -0"
        )
        print(f"SQL statements per export: {statements}")
        print(
            f"server RSS before the downloads: {before['VmRSS'] / 1024:.0f} MiB (peak so far {before['VmHWM'] / 1024:.0f} MiB); "
            f"highest sample during them {sampler.highest_rss_kib / 1024:.0f} MiB"
        )
        print(
            f"of which, highest samples: anonymous {sampler.highest_anonymous_kib / 1024:.0f} MiB "
            f"(before the downloads {before['RssAnon'] / 1024:.0f}), mapped files "
            f"{sampler.highest_file_kib / 1024:.0f} MiB (before {before['RssFile'] / 1024:.0f})"
        )
        print(
            f"server peak RSS (VmHWM) after the exports: {peak_mib:.0f} MiB "
            f"({'under' if peak_mib < LIMIT_MIB else 'OVER'} the {LIMIT_MIB} MiB bound)"
        )
        for report in report_lines(result):
            print("  " + report)
    finally:
        if arguments.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
