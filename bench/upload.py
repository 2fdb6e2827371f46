"""Upload benchmark: one large file through the running portal's API versus a direct store copy.

    .venv/bin/python bench/upload.py            # 1 GiB, 3 rounds, LocalStore in a temporary folder
    .venv/bin/python bench/upload.py --size-mib 512 --rounds 5 --keep

It sets up a throw-away portal (SQLite database and local evidence folder in a temporary
directory), issues a service token, starts ``uvicorn audit_portal.asgi:app`` as its own
process, and then, interleaved for each round, with a new file each round (new bytes, as each
collector run brings),

1. copies the file with ``cp`` and fsyncs the copy: the baseline, the disk's own speed now;
2. copies the file into a fresh LocalStore directly (``store.put``: hashing, fsync, rename);
3. uploads the same file through ``POST /api/v1/evidence`` (multipart, streamed from disk by
   the client with a Content-Length, as ``curl -F`` does) and checks the stored SHA-256.

At the end it uploads the last file once more: bytes the store already holds, whose stored copy
it re-hashes to decide whether it needs repair. It prints the machine's load, medians and p95 of each, the upload's throughput as a ratio of
cp + fsync, the server's CPU time per upload and its peak resident memory (VmHWM). Goals: peak
RSS below 150 MiB; ratio at least 0.8. Exit status 2 when a goal is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MiB = 1024 * 1024
BOUNDARY = "bench-boundary-5c1d0e"
READ_SIZE = 1 * MiB
INSTANCE = "bench"


def make_file(path: Path, size: int, variant: int) -> str:
    """A file of pseudo-random bytes (not compressible, not all alike), different for each
    ``variant``; returns its SHA-256."""
    digest = hashlib.sha256()
    block = hashlib.sha256(b"audit-portal bench %d" % variant).digest() * (MiB // 32)
    with path.open("wb") as handle:
        written = 0
        counter = 0
        while written < size:
            piece = (counter.to_bytes(8, "big") + block[8:])[: size - written]
            handle.write(piece)
            digest.update(piece)
            written += len(piece)
            counter += 1
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def portal_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AUDIT_PORTAL_DATA_DIR": str(data_dir),
        "AUDIT_PORTAL_SCHEDULER_ENABLED": "false",
        "AUDIT_PORTAL_ENVIRONMENT": "development",
        "AUDIT_PORTAL_MAX_UPLOAD_BYTES": str(4 * 1024 * MiB),
    }


def prepare_portal(data_dir: Path) -> str:
    """Migrate the database and issue a token; returns the token's secret."""
    env = portal_env(data_dir)
    subprocess.run([sys.executable, "-m", "audit_portal.cli", "migrate"], env=env, check=True, capture_output=True)
    script = (
        "from audit_portal.config import load_settings\n"
        "from audit_portal.db import make_engine, unit_of_work\n"
        "from audit_portal.auth import tokens\n"
        "from audit_portal.principals import Actor\n"
        "settings = load_settings()\n"
        "with unit_of_work(make_engine(settings.database_url)) as session:\n"
        f"    issued = tokens.create(session, name='bench', scopes=['{INSTANCE}'], days=1, actor=Actor.system('bench'))\n"
        "    print(issued.secret)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not in /proc status (Linux only)")


def current_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not in /proc status (Linux only)")


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
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
            "--lifespan",
            "off",
        ],
        env=portal_env(data_dir),
    )
    deadline = time.monotonic() + 300  # a busy shared machine takes a while to import the app
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the portal did not start within 300 seconds")


class MultipartFile:
    """The multipart body around a file on disk, streamed from it, with its exact length (as
    curl -F sends it, so the server sees a Content-Length body, not chunked encoding)."""

    def __init__(self, path: Path, title: str) -> None:
        meta = json.dumps({"title": title, "collector_instance": INSTANCE})
        self.path = path
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{meta}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.length = len(self.head) + path.stat().st_size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as handle:
            while chunk := handle.read(READ_SIZE):
                yield chunk
        yield self.tail


def direct_copy_seconds(path: Path, store_dir: Path) -> float:
    from evidence_store import LocalStore

    store = LocalStore(store_dir)
    started = time.perf_counter()
    with path.open("rb") as handle:
        store.put(handle)
    return time.perf_counter() - started


def cp_fsync_seconds(path: Path, target_dir: Path) -> float:
    """The disk's own speed for the same bytes: ``cp`` of the file, then fsync of the copy."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "copy.bin"
    started = time.perf_counter()
    subprocess.run(["cp", str(path), str(target)], check=True)
    descriptor = os.open(target, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def upload_once(port: int, secret: str, source: Path) -> tuple[float, str]:
    body = MultipartFile(source, "bench upload")
    started = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/evidence",
        content=iter(body),
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(body.length),
        },
        timeout=httpx.Timeout(600.0),
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"upload failed: {response.status_code} {response.text}")
    return elapsed, response.json()["sha256"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="direct copies and uploads, interleaved (default 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the temporary portal")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="audit-portal-bench-", dir=args.workdir))
    server: subprocess.Popen[bytes] | None = None
    try:
        source = workdir / "bench-evidence.bin"
        data_dir = workdir / "portal"
        secret = prepare_portal(data_dir)
        port = free_port()
        server = start_server(data_dir, port)
        idle_rss = current_rss_mib(server.pid)
        directs: list[float] = []
        copies: list[float] = []
        uploads: list[float] = []
        loads: list[float] = []
        cpu: list[float] = []
        for round_number in range(1, args.rounds + 1):
            # A new file each round, as each collector run brings new bytes: the same file again
            # would be an upload of an object already stored, which the store re-hashes to
            # decide whether the stored copy needs repair (a different path, timed apart below).
            expected = make_file(source, args.size_mib * MiB, round_number)
            # Interleaved, and with dirty pages flushed first, so both see the same machine.
            os.sync()
            loads.append(os.getloadavg()[0])
            copies.append(cp_fsync_seconds(source, workdir / "cp-target"))
            os.sync()
            directs.append(direct_copy_seconds(source, workdir / "direct-store"))
            shutil.rmtree(workdir / "direct-store")
            os.sync()
            cpu_before = cpu_seconds(server.pid)
            elapsed, stored_sha256 = upload_once(port, secret, source)
            cpu.append(cpu_seconds(server.pid) - cpu_before)
            if stored_sha256 != expected:
                print("the upload stored a different SHA-256 than the file's", file=sys.stderr)
                return 1
            uploads.append(elapsed)
            print(
                f"round {round_number}: cp + fsync {copies[-1]:.2f} s, store.put {directs[-1]:.2f} s, "
                f"upload {elapsed:.2f} s, load {loads[-1]:.1f}",
                flush=True,
            )
        os.sync()
        again, _ = upload_once(port, secret, source)
        peak = peak_rss_mib(server.pid)
        copy, direct, upload = statistics.median(copies), statistics.median(directs), statistics.median(uploads)
        ratio = copy / upload
        print()
        print(f"file size                 {args.size_mib} MiB, a new file each round (each SHA-256 verified)")
        print(
            f"machine load (1 min)      {statistics.median(loads):7.1f}   on {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC"
        )
        print(
            f"baseline: cp + fsync      {copy:7.2f} s   {args.size_mib / copy:7.1f} MiB/s   (median of {args.rounds}, p95 {p95(copies):.2f} s)"
        )
        print(
            f"direct store.put          {direct:7.2f} s   {args.size_mib / direct:7.1f} MiB/s   (median of {args.rounds}, p95 {p95(directs):.2f} s)"
        )
        print(
            f"upload through the API    {upload:7.2f} s   {args.size_mib / upload:7.1f} MiB/s   (median of {args.rounds}, p95 {p95(uploads):.2f} s)"
        )
        print(f"the last file once more   {again:7.2f} s   (already stored: the stored copy is re-hashed too)")
        print(f"upload / cp + fsync       {ratio:7.2f}   (goal >= 0.8)")
        print(f"store.put / cp + fsync    {copy / direct:7.2f}")
        print(f"server CPU per upload     {statistics.median(cpu):7.2f} s")
        print(f"server RSS idle           {idle_rss:7.1f} MiB")
        print(f"server peak RSS (VmHWM)   {peak:7.1f} MiB   (target < 150 MiB)")
        return 0 if peak < 150 and ratio >= 0.8 else 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
