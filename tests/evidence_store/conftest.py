"""Fixtures for the store contract suite: one ``store`` fixture per backend.

S3 runs against moto's ThreadedMotoServer speaking real HTTP on a loopback port. The server
runs in a child process: moto assembles completed multipart uploads in memory, and in our own
process that would swamp the tracemalloc measurement of the client's memory use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from evidence_store import LocalStore, MemoryStore, ObjectStore, S3Store

DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_MOTO_SERVER_SCRIPT = """
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # runs until the test session closes our stdin (or dies)
server.stop()
"""


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_AWS_ENV.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def moto_server(aws_env: None) -> Iterator[MotoServer]:
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO_SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, **DUMMY_AWS_ENV},
        text=True,
    )
    try:
        assert process.stdout is not None
        port_line = process.stdout.readline()
        if not port_line.strip().isdigit():
            raise RuntimeError(f"moto server did not start (said {port_line!r})")
        yield MotoServer(endpoint_url=f"http://127.0.0.1:{int(port_line)}")
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_bucket(moto_server: MotoServer) -> str:
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    moto_server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


S3StoreFactory = Callable[..., S3Store]


@pytest.fixture
def make_s3_store(moto_server: MotoServer, s3_bucket: str) -> S3StoreFactory:
    """Builds S3Stores on the moto server, in this test's bucket unless told otherwise."""

    def make(bucket: str = s3_bucket, **options: Any) -> S3Store:
        return S3Store(
            bucket,
            "evidence/",
            endpoint_url=moto_server.endpoint_url,
            region="us-east-1",
            connect_timeout=2,
            read_timeout=30,
            max_attempts=2,
            **options,
        )

    return make


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    if request.param == "memory":
        return MemoryStore()
    make_s3_store: S3StoreFactory = request.getfixturevalue("make_s3_store")
    return make_s3_store(object_lock_mode="GOVERNANCE")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound, read, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
