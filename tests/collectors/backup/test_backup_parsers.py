from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.backup import parsers
from collectors.base import CollectorError

from .conftest import BORG, RESTIC, S3_LISTING

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def exit_code(folder: Path, stem: str = "check") -> int:
    return parsers.parse_exit_code(read(folder / f"{stem}.exitcode"), "exit code")


class TestExitCode:
    @pytest.mark.parametrize(("text", "expected"), [("0\n", 0), ("1", 1), (" 2 \n", 2), ("255", 255)])
    def test_valid(self, text: str, expected: int) -> None:
        assert parsers.parse_exit_code(text, "x.exitcode") == expected

    @pytest.mark.parametrize("text", ["", "\n", "abc", "-1", "256", "0 1"])
    def test_invalid_names_the_file(self, text: str) -> None:
        with pytest.raises(CollectorError, match=r"^x\.exitcode: expected a process exit code"):
            parsers.parse_exit_code(text, "x.exitcode")


class TestResticSnapshots:
    def test_recorded_snapshots_are_timezone_aware_and_grouped_by_host(self) -> None:
        backups = parsers.parse_restic_snapshots(read(RESTIC / "ams" / "snapshots.json"), "ams/snapshots.json")
        assert [parsers.utc(backup.time) for backup in backups] == [
            datetime(2026, 11, day, 1, 0, tzinfo=UTC) for day in (26, 27, 28)
        ]
        assert {backup.group for backup in backups} == {"web1"}
        assert all(len(backup.id) == 64 for backup in backups)
        assert backups[0].label.endswith("/tmp/restic-rec/data")

    def test_empty_repository(self) -> None:
        assert parsers.parse_restic_snapshots(read(RESTIC / "empty" / "snapshots.json")) == []

    def test_empty_input(self) -> None:
        with pytest.raises(CollectorError, match="snapshots.json: empty input"):
            parsers.parse_restic_snapshots("", "snapshots.json")

    def test_truncated_file(self) -> None:
        text = read(RESTIC / "ams" / "snapshots.json")
        with pytest.raises(CollectorError, match=r"^ams/snapshots.json: not valid JSON .* truncated"):
            parsers.parse_restic_snapshots(text[: len(text) // 2], "ams/snapshots.json")

    def test_snapshot_without_time(self) -> None:
        snapshots = json.loads(read(RESTIC / "ams" / "snapshots.json"))
        del snapshots[1]["time"]
        with pytest.raises(CollectorError, match=r"s\.json: snapshot #1 time is missing"):
            parsers.parse_restic_snapshots(json.dumps(snapshots), "s.json")

    def test_not_a_list(self) -> None:
        with pytest.raises(CollectorError, match="expected a JSON list of snapshots, got dict"):
            parsers.parse_restic_snapshots(read(RESTIC / "ams" / "stats.json"), "s.json")


class TestResticCheck:
    def test_passing_check(self) -> None:
        result = parsers.parse_restic_check(read(RESTIC / "ams" / "check.txt"), exit_code(RESTIC / "ams"), "check")
        assert (result.status, result.exit_code, result.messages) == ("ok", 0, ())

    def test_passing_read_data_check(self) -> None:
        folder = RESTIC / "ams"
        result = parsers.parse_restic_check(
            read(folder / "check-read-data.txt"),
            exit_code(folder, "check-read-data"),
            "check-read-data",
        )
        assert result.status == "ok"
        assert result.kind == "check-read-data"

    def test_corrupt_pack_is_a_data_error(self) -> None:
        folder = RESTIC / "ams-corrupt"
        result = parsers.parse_restic_check(
            read(folder / "check-read-data.txt"),
            exit_code(folder, "check-read-data"),
            "check-read-data",
        )
        assert result.status == "data-errors"
        assert result.exit_code == 1
        assert result.messages[0].startswith("Pack ID does not match")
        assert result.messages[-1] == "Fatal: repository contains errors"
        assert not any(line.startswith(("load indexes", "[0:00]")) for line in result.messages)

    def test_structure_check_does_not_read_pack_contents(self) -> None:
        # Why read_data exists: the plain check of the damaged copy passes.
        folder = RESTIC / "ams-corrupt"
        assert parsers.parse_restic_check(read(folder / "check.txt"), exit_code(folder), "check").status == "ok"

    def test_wrong_password_is_a_failed_check_not_damage(self) -> None:
        folder = RESTIC / "wrong-password"
        result = parsers.parse_restic_check(read(folder / "check.txt"), exit_code(folder), "check")
        assert result.status == "failed"
        assert result.messages == ("Fatal: wrong password or no key found",)

    def test_truncated_success_output(self) -> None:
        text = read(RESTIC / "ams" / "check.txt").replace("no errors were found", "")
        with pytest.raises(CollectorError, match="check.txt: exit code 0 but no 'no errors were found' line"):
            parsers.parse_restic_check(text, 0, "check", "check.txt")

    def test_empty_output(self) -> None:
        with pytest.raises(CollectorError, match="check.txt: empty check output"):
            parsers.parse_restic_check("", 1, "check", "check.txt")


class TestResticStats:
    def test_recorded_stats(self) -> None:
        stats = parsers.parse_restic_stats(read(RESTIC / "ams" / "stats.json"))
        expected = json.loads(read(RESTIC / "ams" / "stats.json"))
        assert stats.total_size == expected["total_size"] > 0
        assert stats.detail["snapshots_count"] == 3

    def test_missing_field(self) -> None:
        with pytest.raises(CollectorError, match="stats.json: stats has no int field 'total_file_count'"):
            parsers.parse_restic_stats('{"total_size": 1}', "stats.json")

    def test_boolean_is_not_a_size(self) -> None:
        with pytest.raises(CollectorError, match="no int field 'total_size'"):
            parsers.parse_restic_stats('{"total_size": true, "total_file_count": 1}', "stats.json")


class TestBorgList:
    def test_naive_local_times_use_the_configured_zone(self) -> None:
        backups = parsers.parse_borg_list(read(BORG / "fra" / "list.json"), AMSTERDAM)
        assert [backup.label for backup in backups] == [
            "db1-2026-11-26",
            "db1-2026-11-27",
            "db1-2026-11-28",
        ]
        assert parsers.utc(backups[-1].time) == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
        assert {backup.group for backup in backups} == {"archives"}

    def test_zone_changes_the_instant(self) -> None:
        in_utc = parsers.parse_borg_list(read(BORG / "fra" / "list.json"), UTC)
        assert parsers.utc(in_utc[-1].time) == datetime(2026, 11, 28, 2, 30, tzinfo=UTC)

    def test_checkpoint_archives_are_not_successful_backups(self) -> None:
        data = json.loads(read(BORG / "fra" / "list.json"))
        newest = dict(data["archives"][-1])
        data["archives"].append({**newest, "name": "db1-2026-11-29.checkpoint", "start": "2026-11-29T02:30:00.000000"})
        data["archives"].append(
            {**newest, "name": "db1-2026-11-29.checkpoint.1", "start": "2026-11-29T02:31:00.000000"}
        )
        labels = [backup.label for backup in parsers.parse_borg_list(json.dumps(data), AMSTERDAM)]
        assert labels[-1] == "db1-2026-11-28"
        assert len(labels) == 3

    def test_empty_repository(self) -> None:
        assert parsers.parse_borg_list(read(BORG / "empty" / "list.json"), AMSTERDAM) == []

    def test_truncated(self) -> None:
        text = read(BORG / "fra" / "list.json")
        with pytest.raises(CollectorError, match=r"^fra/list.json: not valid JSON"):
            parsers.parse_borg_list(text[:-30], AMSTERDAM, "fra/list.json")

    def test_wrong_shape(self) -> None:
        with pytest.raises(CollectorError, match="expected an object with an 'archives' list"):
            parsers.parse_borg_list("[]", AMSTERDAM, "list.json")

    def test_bad_time(self) -> None:
        data = json.loads(read(BORG / "fra" / "list.json"))
        data["archives"][0]["start"] = "yesterday"
        with pytest.raises(CollectorError, match="archive #0 start 'yesterday' is not an ISO 8601 time"):
            parsers.parse_borg_list(json.dumps(data), AMSTERDAM, "list.json")


class TestBorgInfo:
    def test_recorded_info(self) -> None:
        info = parsers.parse_borg_info(read(BORG / "fra" / "info.json"), AMSTERDAM)
        expected = json.loads(read(BORG / "fra" / "info.json"))
        assert info.repository_id == expected["repository"]["id"]
        assert info.stats.detail["unique_csize"] == expected["cache"]["stats"]["unique_csize"] > 0
        assert info.last_modified.tzinfo is not None

    def test_empty_repository_has_zero_stats(self) -> None:
        assert parsers.parse_borg_info(read(BORG / "empty" / "info.json"), AMSTERDAM).stats.total_size == 0

    def test_missing_stats(self) -> None:
        with pytest.raises(CollectorError, match="info.json: expected 'repository' and 'cache.stats' objects"):
            parsers.parse_borg_info('{"repository": {}}', AMSTERDAM, "info.json")


class TestBorgCheck:
    def test_passing(self) -> None:
        result = parsers.parse_borg_check(read(BORG / "fra" / "check.txt"), exit_code(BORG / "fra"))
        assert result.status == "ok"

    @pytest.mark.parametrize("lines", [0, 3, 7])
    def test_output_without_completion_line_is_an_error(self, lines) -> None:
        # borg check --verbose ends with "... no problems found."; exit 0 without that line
        # is output cut off (or not --verbose), and must not count as a passed check
        text = "\n".join(read(BORG / "fra" / "check.txt").splitlines()[:lines])
        with pytest.raises(CollectorError, match="no 'check complete, no problems found' line"):
            parsers.parse_borg_check(text, 0)

    def test_corrupt_segment_is_a_data_error(self) -> None:
        folder = BORG / "fra-corrupt"
        result = parsers.parse_borg_check(read(folder / "check.txt"), exit_code(folder))
        assert result.status == "data-errors"
        assert result.messages[0].startswith("Data integrity error: Segment entry checksum mismatch")
        assert "Finished full repository check, errors found." in result.messages

    def test_wrong_passphrase_is_a_failed_check(self) -> None:
        folder = BORG / "wrong-passphrase"
        result = parsers.parse_borg_check(read(folder / "check.txt"), exit_code(folder))
        assert (result.status, result.exit_code) == ("failed", 2)
        assert result.messages[-1].startswith("passphrase supplied in BORG_PASSPHRASE")

    def test_missing_repository_path_is_not_mistaken_for_damage(self) -> None:
        result = parsers.parse_borg_check("Repository /srv/missing-crc does not exist.\n", 2)
        assert result.status == "failed"


class TestS3Listing:
    def test_recorded_listing(self) -> None:
        listing = parsers.parse_s3_listing(read(S3_LISTING))
        assert listing.bucket == "backups-offsite"
        assert sorted(listing.objects_by_prefix) == ["app1/", "db1/", "mail1/", "web1/"]
        assert listing.objects_by_prefix["app1/"] == ()
        keys = [obj.key for obj in listing.objects_by_prefix["db1/"]]
        assert 'db1/2026-11-27/it\'s a "manual" dump.sql.zst' in keys
        assert all(obj.last_modified.tzinfo is not None for obj in listing.objects_by_prefix["web1/"])

    def test_backups_are_grouped_by_prefix(self) -> None:
        backups = parsers.s3_backups(parsers.parse_s3_listing(read(S3_LISTING)))
        assert {backup.group for backup in backups} == {"web1/", "db1/", "mail1/"}

    def test_truncated(self) -> None:
        text = read(S3_LISTING)
        with pytest.raises(CollectorError, match="^listing.json: not valid JSON"):
            parsers.parse_s3_listing(text[:100], "listing.json")

    def test_object_without_time(self) -> None:
        document = {"bucket": "b", "prefixes": {"web1/": [{"Key": "web1/x", "Size": 1}]}}
        with pytest.raises(CollectorError, match="object #0 under 'web1/' LastModified is missing"):
            parsers.parse_s3_listing(json.dumps(document), "listing.json")
