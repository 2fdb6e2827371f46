"""Fixtures for the backup collector tests: the recorded tool output and a moto S3 server."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from collectors.backup import BackupConfig
from collectors.base import CollectContext

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
RESTIC = RECORDINGS / "restic"
BORG = RECORDINGS / "borg"
S3_LISTING = RECORDINGS / "s3backup" / "listing.json"
# The recordings hold backups made up to 2026-11-28 02:30 local time; this is the morning after.
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def check_files(folder: Path, stem: str = "check") -> dict[str, str]:
    return {"output": str(folder / f"{stem}.txt"), "exit_code": str(folder / f"{stem}.exitcode")}


def restic_recorded(
    name: str, location: str, folder: Path, read_data: bool = True, stats: bool = True
) -> dict[str, Any]:
    recorded: dict[str, Any] = {
        "snapshots": str(folder / "snapshots.json"),
        "check": check_files(folder),
    }
    if read_data:
        recorded["check_read_data"] = check_files(folder, "check-read-data")
    if stats:
        recorded["stats"] = str(folder / "stats.json")
    return {"type": "restic", "name": name, "location": location, "recorded": recorded}


def borg_recorded(name: str, location: str, folder: Path, info: bool = True) -> dict[str, Any]:
    recorded: dict[str, Any] = {"list": str(folder / "list.json"), "check": check_files(folder)}
    if info:
        recorded["info"] = str(folder / "info.json")
    return {
        "type": "borg",
        "name": name,
        "location": location,
        "timezone": "Europe/Amsterdam",
        "recorded": recorded,
    }


def s3_recorded(name: str, location: str) -> dict[str, Any]:
    return {
        "type": "s3",
        "name": name,
        "location": location,
        "bucket": "backups-offsite",
        "prefixes": ["web1/", "db1/", "mail1/", "app1/"],
        "recorded_listing": str(S3_LISTING),
    }


def make_context(
    config: Mapping[str, Any],
    workdir: Path,
    now: datetime = NOW,
    previous: Mapping[str, Any] | None = None,
    manual_evidence: Mapping[str, datetime] | None = None,
) -> CollectContext:
    return CollectContext(
        instance_name="backups-demo",
        config=BackupConfig.model_validate(config),
        now=now,
        workdir=workdir,
        log=logging.getLogger("tests.backup"),
        previous=previous,
        manual_evidence=dict(manual_evidence or {}),
    )


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_bucket(moto_endpoint: str) -> str:
    """A bucket with one prefix per host, as the hosts' nightly upload jobs leave it."""
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = "offsite-backups"
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key in (
        "web1/2026-11-28/etc.tar.zst",
        "web1/2026-11-27/etc.tar.zst",
        "db1/2026-11-28/dump 'full'.sql.zst",
    ):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode() * 10)
    return bucket
