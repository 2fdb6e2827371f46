from __future__ import annotations

import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.backup import BackupCollector
from collectors.base import Collector, CollectorError, CollectResult, Severity

from .conftest import (
    BORG,
    NOW,
    RESTIC,
    S3_LISTING,
    borg_recorded,
    make_context,
    restic_recorded,
    s3_recorded,
)


def demo_config() -> dict[str, Any]:
    """The demo organisation: restic to two data centres, borg to a third, and an off-site bucket."""
    return {
        "repositories": [
            restic_recorded("ams", "dc-ams-1", RESTIC / "ams"),
            restic_recorded("rtm", "dc-rtm-1", RESTIC / "rtm"),
            borg_recorded("fra", "dc-fra-1", BORG / "fra"),
            borg_recorded("fra-copy", "dc-fra-2", BORG / "fra-corrupt", info=False),
            s3_recorded("offsite", "aws-eu-west-1"),
        ]
    }


def members(result: CollectResult) -> dict[str, bytes]:
    [raw] = [artifact for artifact in result.artifacts if artifact.kind == "raw"]
    assert raw.path is not None
    with tarfile.open(raw.path, "r:gz") as archive:
        return {member.name: archive.extractfile(member).read() for member in archive.getmembers()}  # type: ignore[union-attr]


def artifact_text(result: CollectResult, kind: str) -> str:
    [artifact] = [artifact for artifact in result.artifacts if artifact.kind == kind]
    assert artifact.data is not None
    return artifact.data.decode()


def test_matches_the_collector_protocol() -> None:
    collector = BackupCollector()
    assert isinstance(collector, Collector)
    assert collector.name == "backup"
    assert collector.version == "1.0.0"
    assert collector.default_schedule == "30 7 * * *"
    assert collector.requirements == ("PHY-3/backup", "BCM-1/backup", "BCM-2/backup-report")


class TestEndToEndOnRecordings:
    @pytest.fixture
    def first(self, tmp_path: Path) -> CollectResult:
        restore_test = {"BCM-1/restore-test": NOW - timedelta(days=100)}
        return BackupCollector().collect(make_context(demo_config(), tmp_path / "run1", manual_evidence=restore_test))

    def test_findings(self, first: CollectResult) -> None:
        assert {finding.key: finding.severity for finding in first.findings} == {
            "check-failed:fra-copy:check": Severity.critical,
            "backup-stale:rtm:web1": Severity.high,
            "backup-stale:offsite:app1/": Severity.high,
            "restore-test-overdue": Severity.medium,
            # borg check without --verify-data is structural: fra's data was never read back
            "data-not-verified:fra": Severity.high,
        }
        assert first.findings[0].severity == Severity.critical  # most severe first

    def test_three_artifacts(self, first: CollectResult) -> None:
        assert [(a.kind, a.filename, a.content_type) for a in first.artifacts] == [
            ("raw", "backup-raw.tar.gz", "application/gzip"),
            ("normalised", "backup-normalised.json", "application/json"),
            ("report", "backup-report.html", "text/html"),
        ]

    def test_raw_artifact_holds_the_recorded_bytes(self, first: CollectResult) -> None:
        raw = members(first)
        expected = {
            "ams/snapshots.json": RESTIC / "ams" / "snapshots.json",
            "ams/check.txt": RESTIC / "ams" / "check.txt",
            "ams/check.exitcode": RESTIC / "ams" / "check.exitcode",
            "ams/check-read-data.txt": RESTIC / "ams" / "check-read-data.txt",
            "ams/check-read-data.exitcode": RESTIC / "ams" / "check-read-data.exitcode",
            "ams/stats.json": RESTIC / "ams" / "stats.json",
            "fra/list.json": BORG / "fra" / "list.json",
            "fra/info.json": BORG / "fra" / "info.json",
            "fra/check.txt": BORG / "fra" / "check.txt",
            "fra-copy/check.txt": BORG / "fra-corrupt" / "check.txt",
            "offsite/listing.json": S3_LISTING,
        }
        for member, path in expected.items():
            assert raw[member] == path.read_bytes(), member
        assert len(raw) == 6 + 6 + 4 + 3 + 1

    def test_normalised_artifact_is_the_normalised_summary(self, first: CollectResult) -> None:
        normalised = json.loads(artifact_text(first, "normalised"))
        assert normalised == json.loads(json.dumps(first.normalised))
        assert normalised["locations_with_recent_backup"] == [
            "aws-eu-west-1",
            "dc-ams-1",
            "dc-fra-1",
        ]
        ams = normalised["repositories"]["ams"]
        assert ams["newest_backup"] == "2026-11-28T01:00:00+00:00"
        assert ams["checks"]["check-read-data"]["status"] == "ok"
        assert normalised["repositories"]["fra"]["groups"]["archives"]["age_hours"] == 10.5
        assert normalised["restore_test"]["overdue"] is True

    def test_report_lists_findings_and_says_first_run(self, first: CollectResult) -> None:
        report = artifact_text(first, "report")
        assert "This is the first run" in report
        for finding in first.findings:
            assert finding.key in report
        assert "Data integrity error: Segment entry checksum mismatch" in report
        assert "db1/2026-11-27/pg_dumpall.sql.zst" in report

    def test_report_escapes_what_it_shows(self, tmp_path: Path) -> None:
        folder = tmp_path / 'nightly "ams" <copy> & more'
        folder.mkdir()
        for file in (RESTIC / "ams").iterdir():
            (folder / file.name).write_bytes(file.read_bytes())
        config = {"repositories": [restic_recorded("ams", "dc-ams-1", folder)]}
        report = artifact_text(BackupCollector().collect(make_context(config, tmp_path / "work")), "report")
        assert "nightly &#34;ams&#34; &lt;copy&gt; &amp; more/snapshots.json" in report
        assert "<copy>" not in report

    def test_second_run_reports_what_changed(self, first: CollectResult, tmp_path: Path) -> None:
        later = NOW + timedelta(days=2)
        second = BackupCollector().collect(
            make_context(demo_config(), tmp_path / "run2", now=later, previous=first.normalised)
        )
        keys = {finding.key for finding in second.findings}
        assert {"backup-stale:ams:web1", "backup-stale:fra:archives", "too-few-locations"} <= keys
        report = artifact_text(second, "report")
        assert "Changes since the previous run" in report
        assert "location no longer holds a recent backup" in report
        assert "new finding (high): Recent backups at 0 location(s); at least 2 required" in report
        assert "restore test" in report

    def test_same_input_gives_identical_artifacts(self, first: CollectResult, tmp_path: Path) -> None:
        restore_test = {"BCM-1/restore-test": NOW - timedelta(days=100)}
        again = BackupCollector().collect(make_context(demo_config(), tmp_path / "again", manual_evidence=restore_test))
        assert again.artifacts[0].path.read_bytes() == first.artifacts[0].path.read_bytes()  # type: ignore[union-attr]
        assert again.artifacts[1].data == first.artifacts[1].data


class TestBadInput:
    def test_missing_file_names_it(self, tmp_path: Path) -> None:
        config = {"repositories": [restic_recorded("ams", "dc-ams-1", tmp_path / "nowhere")]}
        with pytest.raises(
            CollectorError,
            match=r"nowhere/snapshots.json: cannot read \(No such file or directory\)",
        ):
            BackupCollector().collect(make_context(config, tmp_path / "work"))

    def test_truncated_recording_names_the_file(self, tmp_path: Path) -> None:
        folder = tmp_path / "ams"
        folder.mkdir()
        for file in (RESTIC / "ams").iterdir():
            (folder / file.name).write_bytes(file.read_bytes())
        snapshots = folder / "snapshots.json"
        snapshots.write_bytes(snapshots.read_bytes()[:200])
        config = {"repositories": [restic_recorded("ams", "dc-ams-1", folder)]}
        with pytest.raises(CollectorError, match=rf"^{snapshots}: not valid JSON .*truncated"):
            BackupCollector().collect(make_context(config, tmp_path / "work"))

    def test_binary_garbage_is_rejected(self, tmp_path: Path) -> None:
        listing = tmp_path / "listing.json"
        listing.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
        config = {"repositories": [{**s3_recorded("offsite", "aws"), "recorded_listing": str(listing)}]}
        with pytest.raises(CollectorError, match=rf"^{listing}: not UTF-8 text"):
            BackupCollector().collect(make_context(config, tmp_path / "work"))

    def test_listing_of_another_bucket(self, tmp_path: Path) -> None:
        config = {"repositories": [{**s3_recorded("offsite", "aws"), "bucket": "other-bucket"}]}
        with pytest.raises(CollectorError, match="lists bucket 'backups-offsite', configured 'other-bucket'"):
            BackupCollector().collect(make_context(config, tmp_path / "work"))


def test_empty_repositories_are_findings_not_errors(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "snapshots.json").write_bytes((RESTIC / "empty" / "snapshots.json").read_bytes())
    (folder / "check.txt").write_bytes((RESTIC / "ams" / "check.txt").read_bytes())
    (folder / "check.exitcode").write_text("0\n")
    config = {
        "repositories": [
            restic_recorded("fresh-restic", "dc-ams-1", folder, read_data=False, stats=False),
            borg_recorded("fresh-borg", "dc-rtm-1", BORG / "empty")
            | {
                "recorded": {
                    "list": str(BORG / "empty" / "list.json"),
                    "info": str(BORG / "empty" / "info.json"),
                    "check": {
                        "output": str(BORG / "fra" / "check.txt"),
                        "exit_code": str(BORG / "fra" / "check.exitcode"),
                    },
                }
            },
        ]
    }
    result = BackupCollector().collect(
        make_context(config, tmp_path / "work", manual_evidence={"BCM-1/restore-test": NOW})
    )
    assert {finding.key for finding in result.findings} == {
        "backup-stale:fresh-restic",
        "backup-stale:fresh-borg",
        "too-few-locations",
    }
    assert "No backups." in artifact_text(result, "report")
