"""A structural check is not a restore test: which kind of check ran is read from the tool's
own output, and BCM-1 counts only a check that read the data back (or a restore test)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.backup import BackupCollector
from collectors.backup.analysis import Observation, Policy, assess
from collectors.backup.parsers import Backup, CheckResult, parse_borg_check, parse_restic_check
from collectors.base import Severity

from .conftest import NOW, RECORDINGS, make_context
from .test_backup_live import PASSWORD, live_restic, run

CHECKS = RECORDINGS / "backup-checks"
needs_restic = pytest.mark.skipif(shutil.which("restic") is None, reason="restic is not installed")
needs_borg = pytest.mark.skipif(shutil.which("borg") is None, reason="borg is not installed")


def recorded(name: str) -> tuple[str, int]:
    return (CHECKS / f"{name}.txt").read_text(), int((CHECKS / f"{name}.exitcode").read_text())


class TestWhichKindRan:
    @pytest.mark.parametrize(
        ("name", "scope", "reads_data"),
        [
            ("restic-check", "structure", False),
            ("restic-check-read-data-subset", "data-subset", True),
            ("restic-check-read-data-subset-2", "data-subset", True),
            ("restic-check-read-data-subset-percent", "data-subset", True),
            ("restic-check-read-data", "data", True),
        ],
    )
    def test_restic(self, name: str, scope: str, reads_data: bool) -> None:
        result = parse_restic_check(*recorded(name), kind="check")
        assert (result.status, result.scope, result.reads_data) == ("ok", scope, reads_data)

    @pytest.mark.parametrize(
        ("name", "scope"),
        [
            ("borg-check", "structure"),
            ("borg-check-repository-only", "structure"),
            ("borg-check-verify-data", "data"),
        ],
    )
    def test_borg(self, name: str, scope: str) -> None:
        result = parse_borg_check(*recorded(name))
        assert (result.status, result.scope) == ("ok", scope)

    def test_a_subset_that_read_no_pack_read_no_data(self) -> None:
        # restic 0.14 on a repository with fewer packs than groups: group 1 was empty
        text, _ = recorded("restic-check-read-data-subset")
        text = text.replace("of 1 data packs", "of 0 data packs").replace("100.00%  1 / 1 packs", "         0 packs")
        result = parse_restic_check(text, 0, kind="check-read-data")
        assert (result.scope, result.packs_read, result.reads_data) == ("data-subset", 0, False)

    def test_a_failed_data_check_is_still_a_data_check(self) -> None:
        folder = RECORDINGS / "restic" / "ams-corrupt"
        result = parse_restic_check((folder / "check-read-data.txt").read_text(), 1, kind="check-read-data")
        assert (result.status, result.scope) == ("data-errors", "data")


POLICY = Policy(
    rpo=timedelta(hours=26),
    restore_test_interval=timedelta(days=90),
    minimum_locations=1,
    data_check_interval=timedelta(days=2),
)


def observation(*checks: CheckResult) -> Observation:
    moment = NOW - timedelta(hours=3)
    return Observation(
        repository="ams",
        type="restic",
        location="dc-ams-1",
        mode="recorded",
        backups=[Backup(id="a", time=moment, group="web1", label="a")],
        checks=checks,
    )


def check(scope: str, age: timedelta, status: str = "ok") -> CheckResult:
    return CheckResult(
        kind="check" if scope == "structure" else "check-read-data",
        exit_code=0 if status == "ok" else 1,
        status=status,  # type: ignore[arg-type]
        messages=(),
        scope=scope,  # type: ignore[arg-type]
        ran_at=NOW - age,
    )


def findings(*checks: CheckResult, previous=None, restore_test_at=None):
    assessment = assess([observation(*checks)], POLICY, NOW, restore_test_at, previous)
    return {f.key: f for f in assessment.findings}, assessment.normalised


class TestBcm1NeedsDataRead:
    def test_only_structural_checks_get_a_finding_that_says_so(self) -> None:
        found, normalised = findings(check("structure", timedelta(hours=1)))
        finding = found["data-not-verified:ams"]
        assert finding.severity == Severity.high
        assert "structural check" in finding.detail and "check (structure, ok)" in finding.detail
        data_check = normalised["repositories"]["ams"]["data_check"]
        assert data_check["last_at"] is None and data_check["overdue"] is True
        assert normalised["repositories"]["ams"]["checks"]["check"]["scope"] == "structure"

    @pytest.mark.parametrize("scope", ["data", "data-subset"])
    def test_a_data_reading_check_within_the_interval_meets_it(self, scope: str) -> None:
        found, normalised = findings(check("structure", timedelta(hours=1)), check(scope, timedelta(hours=1)))
        assert "data-not-verified:ams" not in found
        data_check = normalised["repositories"]["ams"]["data_check"]
        assert data_check["scope"] == scope and data_check["seen_in"] == "this run"
        assert data_check["last_at"] == (NOW - timedelta(hours=1)).isoformat()

    def test_a_data_reading_check_older_than_the_interval_does_not(self) -> None:
        found, _ = findings(check("data", timedelta(days=2, seconds=1)))
        assert "data-not-verified:ams" in found
        found, _ = findings(check("data", timedelta(days=2)))
        assert "data-not-verified:ams" not in found

    def test_an_earlier_runs_data_check_is_remembered(self) -> None:
        _, first = findings(check("data", timedelta(days=1)))
        previous = first["repositories"]["ams"]
        found, second = findings(check("structure", timedelta(hours=1)), previous={"repositories": {"ams": previous}})
        assert "data-not-verified:ams" not in found
        assert second["repositories"]["ams"]["data_check"]["seen_in"] == "an earlier run"
        assert second["repositories"]["ams"]["data_check"]["structural_only_this_run"] is True

    def test_a_recent_restore_test_also_meets_it(self) -> None:
        found, _ = findings(check("structure", timedelta(hours=1)), restore_test_at=NOW - timedelta(days=1))
        assert "data-not-verified:ams" not in found
        found, _ = findings(check("structure", timedelta(hours=1)), restore_test_at=NOW - timedelta(days=5))
        assert "data-not-verified:ams" in found


class TestRecordedEndToEnd:
    def restic(self, read_data: str | None) -> dict:
        recorded = {
            "snapshots": str(RECORDINGS / "restic" / "ams" / "snapshots.json"),
            "check": {"output": str(CHECKS / "restic-check.txt"), "exit_code": str(CHECKS / "restic-check.exitcode")},
        }
        if read_data:
            recorded["check_read_data"] = {
                "output": str(CHECKS / f"{read_data}.txt"),
                "exit_code": str(CHECKS / f"{read_data}.exitcode"),
            }
        return {
            "repositories": [{"type": "restic", "name": "ams", "location": "dc-ams-1", "recorded": recorded}],
            "minimum_locations": 1,
        }

    def test_structural_only_recording(self, tmp_path: Path) -> None:
        result = BackupCollector().collect(make_context(self.restic(None), tmp_path))
        assert "data-not-verified:ams" in {f.key for f in result.findings}

    def test_a_structural_output_in_the_read_data_slot_does_not_count(self, tmp_path: Path) -> None:
        # the kind is read from what restic printed, not from which file slot was configured
        result = BackupCollector().collect(make_context(self.restic("restic-check"), tmp_path))
        assert "data-not-verified:ams" in {f.key for f in result.findings}

    def test_subset_recording_meets_it(self, tmp_path: Path) -> None:
        result = BackupCollector().collect(make_context(self.restic("restic-check-read-data-subset-2"), tmp_path))
        assert "data-not-verified:ams" not in {f.key for f in result.findings}
        check = result.normalised["repositories"]["ams"]["checks"]["check-read-data"]
        assert (check["scope"], check["packs_read"], check["reads_data"]) == ("data-subset", 1, True)

    def test_a_recorded_check_ran_when_its_file_was_written(self, tmp_path: Path) -> None:
        output = tmp_path / "check-read-data.txt"
        output.write_text((CHECKS / "restic-check-read-data.txt").read_text())
        exit_code = tmp_path / "check-read-data.exitcode"
        exit_code.write_text("0\n")
        written = NOW - timedelta(days=5)
        os.utime(output, (written.timestamp(), written.timestamp()))
        config = self.restic(None)
        config["repositories"][0]["recorded"]["check_read_data"] = {"output": str(output), "exit_code": str(exit_code)}
        result = BackupCollector().collect(make_context(config, tmp_path / "work"))
        check = result.normalised["repositories"]["ams"]["checks"]["check-read-data"]
        assert check["ran_at"] == written.isoformat()
        assert "data-not-verified:ams" in {f.key for f in result.findings}


@needs_restic
class TestLiveSubset:
    def test_read_data_subset_runs_and_counts(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        data.mkdir()
        (data / "app.conf").write_text("listen 443\n")
        env = {"RESTIC_PASSWORD": PASSWORD, "RESTIC_CACHE_DIR": str(tmp_path / "cache")}
        run(["restic", "-r", str(tmp_path / "repo"), "init"], env)
        run(["restic", "-r", str(tmp_path / "repo"), "backup", "--host", "app1", str(data)], env)
        config = {
            "repositories": [live_restic(tmp_path / "repo", password=PASSWORD, read_data_subset="100%")],
            "minimum_locations": 1,
        }
        now = datetime.now(UTC)
        result = BackupCollector().collect(make_context(config, tmp_path / "work", now=now))
        live = result.normalised["repositories"]["live"]
        assert live["checks"]["check"]["scope"] == "structure"
        assert live["checks"]["check-read-data"]["scope"] == "data-subset"
        assert live["data_check"]["last_at"] == now.isoformat()
        assert "data-not-verified:live" not in {f.key for f in result.findings}


@needs_borg
class TestLiveBorgVerifyData:
    def test_verify_data_counts(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        data = tmp_path / "data"
        data.mkdir()
        (data / "dump.sql").write_text("create table t (id int);\n")
        env = {"BORG_PASSPHRASE": PASSWORD, "BORG_BASE_DIR": str(tmp_path / "home")}
        run(["borg", "init", "--encryption=repokey", str(tmp_path / "repo")], env)
        run(["borg", "create", f"{tmp_path / 'repo'}::db1-first", str(data)], env)
        monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "home"))
        repo = {
            "type": "borg",
            "name": "db",
            "location": "dc-fra-1",
            "repository": str(tmp_path / "repo"),
            "passphrase": PASSWORD,
        }
        for verify, expected in ((False, "structure"), (True, "data")):
            config = {"repositories": [{**repo, "verify_data": verify}], "minimum_locations": 1}
            result = BackupCollector().collect(make_context(config, tmp_path / f"w{verify}", now=datetime.now(UTC)))
            assert result.normalised["repositories"]["db"]["checks"]["check"]["scope"] == expected
            assert ("data-not-verified:db" in {f.key for f in result.findings}) is (not verify)
