"""The live paths: restic and borg run here against real repositories, S3 listed over HTTP from
a moto server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from collectors.backup import BackupCollector, BackupConfig
from collectors.base import CollectorError, CollectResult

from .conftest import make_context

PASSWORD = "live-test-password"
needs_restic = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")
needs_borg = pytest.mark.skipif(shutil.which("borg") is None, reason="borg is not installed")


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env={**os.environ, **env}, check=True, capture_output=True, timeout=120)


def raw_members(result: CollectResult) -> dict[str, bytes]:
    raw = result.artifacts[0].path
    assert raw is not None
    with tarfile.open(raw, "r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]


def everything_as_text(result: CollectResult) -> str:
    members = b"".join(raw_members(result).values())
    return members.decode() + "".join(a.data.decode() for a in result.artifacts[1:] if a.data)


@pytest.fixture(scope="module")
def restic_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("restic")
    data = base / "data"
    data.mkdir()
    (data / "app.conf").write_text("listen 443\n")
    env = {"RESTIC_PASSWORD": PASSWORD, "RESTIC_CACHE_DIR": str(base / "cache")}
    run(["restic", "-r", str(base / "repo"), "init"], env)
    run(["restic", "-r", str(base / "repo"), "backup", "--host", "app1", str(data)], env)
    return base / "repo"


@pytest.fixture(scope="module")
def borg_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("borg")
    data = base / "data"
    data.mkdir()
    (data / "dump.sql").write_text("create table t (id int);\n")
    env = {"BORG_PASSPHRASE": PASSWORD, "BORG_BASE_DIR": str(base / "home")}
    run(["borg", "init", "--encryption=repokey", str(base / "repo")], env)
    run(["borg", "create", f"{base / 'repo'}::db1-first", str(data)], env)
    return base / "repo"


def live_restic(repository: Path, **extra: Any) -> dict[str, Any]:
    return {
        "type": "restic",
        "name": "live",
        "location": "dc-ams-1",
        "repository": str(repository),
        **extra,
    }


@needs_restic
class TestLiveRestic:
    def test_password_from_config(self, restic_repository: Path, tmp_path: Path) -> None:
        config = {"repositories": [live_restic(restic_repository, password=PASSWORD, read_data=True)]}
        result = BackupCollector().collect(make_context(config, tmp_path, now=datetime.now(UTC) + timedelta(hours=1)))
        live = result.normalised["repositories"]["live"]
        assert live["mode"] == "live"
        assert live["groups"]["app1"]["count"] == 1
        assert live["groups"]["app1"]["fresh"] is True
        assert {kind: check["status"] for kind, check in live["checks"].items()} == {
            "check": "ok",
            "check-read-data": "ok",
        }
        assert live["stats"]["total_file_count"] >= 1
        assert PASSWORD not in everything_as_text(result)

    def test_password_file(self, restic_repository: Path, tmp_path: Path) -> None:
        password_file = tmp_path / "restic.pass"
        password_file.write_text(PASSWORD)
        config = {"repositories": [live_restic(restic_repository, password_file=str(password_file))]}
        result = BackupCollector().collect(make_context(config, tmp_path / "work", now=datetime.now(UTC)))
        assert list(result.normalised["repositories"]["live"]["checks"]) == ["check"]

    def test_wrong_password_fails_the_run(self, restic_repository: Path, tmp_path: Path) -> None:
        config = {"repositories": [live_restic(restic_repository, password="wrong")]}
        with pytest.raises(CollectorError, match=r"snapshots --json: exited with 1: .*wrong password"):
            BackupCollector().collect(make_context(config, tmp_path))

    def test_inherited_restic_variables_are_ignored(
        self, restic_repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("RESTIC_PASSWORD_COMMAND", "echo wrong")
        config = {"repositories": [live_restic(restic_repository, password=PASSWORD)]}
        result = BackupCollector().collect(make_context(config, tmp_path, now=datetime.now(UTC)))
        assert result.normalised["repositories"]["live"]["checks"]["check"]["status"] == "ok"


@needs_borg
class TestLiveBorg:
    def test_passphrase_file(self, borg_repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        passphrase_file = tmp_path / "borg pass 'file'"
        passphrase_file.write_text(PASSWORD)
        repo = {
            "type": "borg",
            "name": "db",
            "location": "dc-fra-1",
            "repository": str(borg_repository),
            "passphrase_file": str(passphrase_file),
        }
        # borg keeps its cache and security files under $HOME; keep them out of the real one.
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        result = BackupCollector().collect(
            make_context({"repositories": [repo]}, tmp_path / "work", now=datetime.now(UTC))
        )
        db = result.normalised["repositories"]["db"]
        assert db["groups"]["archives"]["newest_label"] == "db1-first"
        assert db["checks"]["check"]["status"] == "ok"
        assert db["stats"]["total_unique_chunks"] > 0

    def test_missing_repository_fails_the_run(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        repo = {
            "type": "borg",
            "name": "db",
            "location": "dc-fra-1",
            "repository": str(tmp_path / "nothing"),
            "passphrase": "x",
        }
        with pytest.raises(CollectorError, match=r"borg list --json .*nothing: exited with 2: .*does not exist"):
            BackupCollector().collect(make_context({"repositories": [repo]}, tmp_path / "work"))


class TestToolFailures:
    def test_tool_not_installed(self, tmp_path: Path) -> None:
        config = {"repositories": [live_restic(tmp_path, password="x", binary=str(tmp_path / "no-restic"))]}
        with pytest.raises(CollectorError, match="no-restic: not installed or not on PATH"):
            BackupCollector().collect(make_context(config, tmp_path))

    def test_timeout(self, tmp_path: Path) -> None:
        hanging = tmp_path / "hanging-restic"
        hanging.write_text("#!/bin/sh\nexec sleep 30\n")
        hanging.chmod(0o755)
        config = {"repositories": [live_restic(tmp_path, password="x", binary=str(hanging), timeout_seconds=0.5)]}
        with pytest.raises(
            CollectorError,
            match=r"hanging-restic --repo .* snapshots --json: no result within 0.5 s",
        ):
            BackupCollector().collect(make_context(config, tmp_path))


def s3_live(endpoint: str, bucket: str, prefixes: list[str]) -> dict[str, Any]:
    return {
        "type": "s3",
        "name": "offsite",
        "location": "minio-rtm",
        "bucket": bucket,
        "prefixes": prefixes,
        "endpoint_url": endpoint,
        "region_name": "eu-west-1",
        "access_key_id": "test",
        "secret_access_key": "s3-secret-key",
        "timeout_seconds": 10,
    }


class TestLiveS3:
    def test_newest_object_per_prefix(self, moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> None:
        config = {"repositories": [s3_live(moto_endpoint, s3_bucket, ["web1/", "db1/", "mail1/"])]}
        now = datetime.now(UTC) + timedelta(hours=1)
        result = BackupCollector().collect(make_context(config, tmp_path, now=now))
        groups = result.normalised["repositories"]["offsite"]["groups"]
        assert {name: (info["count"], info["fresh"]) for name, info in groups.items()} == {
            "db1/": (1, True),
            "mail1/": (0, False),
            "web1/": (2, True),
        }
        assert groups["db1/"]["newest_label"] == "db1/2026-11-28/dump 'full'.sql.zst"
        assert [f.key for f in result.findings if f.key.startswith("backup-stale")] == ["backup-stale:offsite:mail1/"]
        listing = json.loads(raw_members(result)["offsite/listing.json"])
        assert listing["bucket"] == s3_bucket
        assert len(listing["prefixes"]["web1/"]) == 2
        assert "s3-secret-key" not in everything_as_text(result)

    def test_prefixes_are_discovered_when_not_configured(
        self, moto_endpoint: str, s3_bucket: str, tmp_path: Path
    ) -> None:
        config = {"repositories": [s3_live(moto_endpoint, s3_bucket, [])]}
        result = BackupCollector().collect(make_context(config, tmp_path, now=datetime.now(UTC) + timedelta(hours=30)))
        assert sorted(f.key for f in result.findings if f.key.startswith("backup-stale")) == [
            "backup-stale:offsite:db1/",
            "backup-stale:offsite:web1/",
        ]

    def test_missing_bucket(self, moto_endpoint: str, tmp_path: Path) -> None:
        config = {"repositories": [s3_live(moto_endpoint, "no-such-bucket", ["web1/"])]}
        with pytest.raises(CollectorError, match=r"s3://no-such-bucket: listing failed: .*NoSuchBucket"):
            BackupCollector().collect(make_context(config, tmp_path))


class TestConfig:
    @pytest.mark.parametrize(
        ("repository", "message"),
        [
            ({"type": "restic", "name": "a", "location": "x"}, "set either 'recorded'"),
            (
                {"type": "restic", "name": "a", "location": "x", "repository": "/r"},
                "exactly one of 'password'",
            ),
            (
                {
                    "type": "restic",
                    "name": "a",
                    "location": "x",
                    "repository": "/r",
                    "password": "p",
                    "password_file": "/f",
                },
                "exactly one of 'password'",
            ),
            (
                {
                    "type": "borg",
                    "name": "a",
                    "location": "x",
                    "repository": "/r",
                    "timezone": "Mars/Olympus",
                },
                "unknown time zone",
            ),
            (
                {"type": "s3", "name": "a", "location": "x", "bucket": "bkt", "access_key_id": "k"},
                "both 'access_key_id'",
            ),
            (
                {"type": "s3", "name": "../etc", "location": "x", "bucket": "bkt"},
                "should match pattern",
            ),
            (
                {"type": "tape", "name": "a", "location": "x"},
                "does not match any of the expected tags",
            ),
        ],
    )
    def test_rejected(self, repository: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            BackupConfig.model_validate({"repositories": [repository]})

    def test_unique_names(self) -> None:
        repository = {"type": "s3", "name": "a", "location": "x", "bucket": "bkt"}
        with pytest.raises(ValidationError, match="repeated: a"):
            BackupConfig.model_validate({"repositories": [repository, repository]})

    def test_defaults(self) -> None:
        config = BackupConfig.model_validate(
            {"repositories": [{"type": "s3", "name": "a", "location": "x", "bucket": "bkt"}]}
        )
        assert (config.rpo_hours, config.restore_test_days, config.minimum_locations) == (26, 90, 2)

    def test_secrets_are_hidden(self) -> None:
        config = BackupConfig.model_validate({"repositories": [live_restic(Path("/r"), password="hunter2")]})
        assert "hunter2" not in repr(config)
        assert "hunter2" not in config.model_dump_json()
