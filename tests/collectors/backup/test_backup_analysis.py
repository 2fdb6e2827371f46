from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from collectors.backup.analysis import Observation, Policy, assess, diff
from collectors.backup.parsers import Backup, CheckResult
from collectors.base import Severity

from .conftest import NOW

POLICY = Policy(rpo=timedelta(hours=26), restore_test_interval=timedelta(days=90), minimum_locations=2)
RECENT_RESTORE_TEST = NOW - timedelta(days=10)
# a passing check that read the data back an hour ago: BCM-1's data check is current
OK = CheckResult(
    kind="check",
    exit_code=0,
    status="ok",
    messages=(),
    scope="data",
    ran_at=NOW - timedelta(hours=1),
)
STRUCTURAL = CheckResult(kind="check", exit_code=0, status="ok", messages=(), ran_at=NOW - timedelta(hours=1))


def backup(age: timedelta, group: str = "web1") -> Backup:
    moment = NOW - age
    return Backup(id=moment.isoformat(), time=moment, group=group, label=f"snapshot {moment:%d}")


def repo(
    name: str,
    location: str,
    backups: Sequence[Backup],
    checks: Sequence[CheckResult] = (OK,),
    expected_groups: Sequence[str] = (),
) -> Observation:
    return Observation(
        repository=name,
        type="restic",
        location=location,
        mode="recorded",
        backups=backups,
        checks=checks,
        expected_groups=expected_groups,
    )


def findings_of(
    observations: Sequence[Observation],
    restore_test_at: datetime | None = RECENT_RESTORE_TEST,
    now: datetime = NOW,
) -> dict[str, Severity]:
    return {finding.key: finding.severity for finding in assess(observations, POLICY, now, restore_test_at).findings}


def two_healthy_sites() -> list[Observation]:
    return [
        repo("ams", "dc-ams-1", [backup(timedelta(hours=10))]),
        repo("rtm", "dc-rtm-1", [backup(timedelta(hours=11))]),
    ]


class TestStaleness:
    def test_all_fresh_gives_no_findings(self) -> None:
        assert findings_of(two_healthy_sites()) == {}

    def test_exactly_at_the_rpo_is_still_fresh(self) -> None:
        observations = [
            *two_healthy_sites(),
            repo("edge", "dc-ams-1", [backup(timedelta(hours=26))]),
        ]
        assert findings_of(observations) == {}

    def test_one_second_past_the_rpo_is_stale(self) -> None:
        observations = [
            *two_healthy_sites(),
            repo("edge", "dc-ams-1", [backup(timedelta(hours=26, seconds=1))]),
        ]
        assert findings_of(observations) == {"backup-stale:edge:web1": Severity.high}

    def test_only_the_newest_backup_counts_per_host(self) -> None:
        observations = [
            *two_healthy_sites(),
            repo(
                "multi",
                "dc-ams-1",
                [
                    backup(timedelta(days=3), "db1"),
                    backup(timedelta(hours=2), "db1"),
                    backup(timedelta(days=5), "mail1"),
                ],
            ),
        ]
        assert findings_of(observations) == {"backup-stale:multi:mail1": Severity.high}

    def test_repository_without_any_backup(self) -> None:
        observations = [*two_healthy_sites(), repo("empty", "dc-ams-1", [])]
        assessment = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST)
        [finding] = assessment.findings
        assert (finding.key, finding.severity) == ("backup-stale:empty", Severity.high)
        assert assessment.normalised["repositories"]["empty"]["newest_backup"] is None

    def test_expected_group_without_objects_is_stale(self) -> None:
        observations = [
            *two_healthy_sites(),
            repo(
                "s3",
                "dc-ams-1",
                [backup(timedelta(hours=1), "web1/")],
                expected_groups=["web1/", "app1/"],
            ),
        ]
        assessment = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST)
        assert [finding.key for finding in assessment.findings] == ["backup-stale:s3:app1/"]
        assert "No backup found under 'app1/'" in assessment.findings[0].detail

    def test_detail_names_the_age_and_the_rpo(self) -> None:
        observations = [
            *two_healthy_sites(),
            repo("old", "dc-ams-1", [backup(timedelta(hours=50))]),
        ]
        [finding] = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST).findings
        assert "(50 h ago)" in finding.detail
        assert "objective is 26 h" in finding.detail


class TestChecks:
    def test_failed_check_is_high(self) -> None:
        failed = CheckResult(
            kind="check",
            exit_code=1,
            status="failed",
            messages=("Fatal: wrong password or no key found",),
        )
        observations = [
            *two_healthy_sites(),
            repo("x", "dc-ams-1", [backup(timedelta(hours=1))], [failed]),
        ]
        [finding] = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST).findings
        assert (finding.key, finding.severity) == ("check-failed:x:check", Severity.high)
        assert "Fatal: wrong password" in finding.detail

    def test_data_errors_are_critical(self) -> None:
        damaged = CheckResult(
            kind="check-read-data",
            exit_code=1,
            status="data-errors",
            messages=("Pack ID does not match",),
        )
        observations = [
            *two_healthy_sites(),
            repo("x", "dc-ams-1", [backup(timedelta(hours=1))], [OK, damaged]),
        ]
        assert findings_of(observations) == {"check-failed:x:check-read-data": Severity.critical}


class TestLocations:
    def test_one_location_is_not_enough(self) -> None:
        observations = [
            repo("a", "dc-ams-1", [backup(timedelta(hours=1))]),
            repo("b", "dc-ams-1", [backup(timedelta(hours=1))]),
        ]
        assessment = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST)
        [finding] = assessment.findings
        assert (finding.key, finding.severity) == ("too-few-locations", Severity.high)
        assert assessment.normalised["locations"] == {"dc-ams-1": {"repositories": ["a", "b"], "recent_backup": True}}

    def test_a_stale_location_does_not_count(self) -> None:
        observations = [
            repo("a", "dc-ams-1", [backup(timedelta(hours=1))]),
            repo("b", "dc-rtm-1", [backup(timedelta(hours=30))]),
        ]
        result = findings_of(observations)
        assert result == {"backup-stale:b:web1": Severity.high, "too-few-locations": Severity.high}

    def test_a_location_whose_check_fails_does_not_count(self) -> None:
        damaged = CheckResult(kind="check", exit_code=1, status="data-errors", messages=("errors found",))
        observations = [
            repo("a", "dc-ams-1", [backup(timedelta(hours=1))]),
            repo("b", "dc-rtm-1", [backup(timedelta(hours=1))], [damaged]),
        ]
        assessment = assess(observations, POLICY, NOW, RECENT_RESTORE_TEST)
        assert {f.key for f in assessment.findings} == {
            "check-failed:b:check",
            "too-few-locations",
        }
        assert assessment.normalised["locations_with_recent_backup"] == ["dc-ams-1"]

    def test_minimum_is_configurable(self) -> None:
        observations = two_healthy_sites()
        strict = Policy(rpo=POLICY.rpo, restore_test_interval=POLICY.restore_test_interval, minimum_locations=3)
        keys = [finding.key for finding in assess(observations, strict, NOW, RECENT_RESTORE_TEST).findings]
        assert keys == ["too-few-locations"]


class TestRestoreTest:
    def test_never_tested(self) -> None:
        assessment = assess(two_healthy_sites(), POLICY, NOW, None)
        [finding] = assessment.findings
        assert (finding.key, finding.severity) == ("restore-test-overdue", Severity.medium)
        assert "No restore test evidence" in finding.detail

    def test_too_old(self) -> None:
        tested = NOW - timedelta(days=91)
        [finding] = assess(two_healthy_sites(), POLICY, NOW, tested).findings
        assert finding.key == "restore-test-overdue"
        assert (tested + timedelta(days=90)).isoformat() in finding.detail

    def test_on_the_last_day_is_current(self) -> None:
        assert findings_of(two_healthy_sites(), restore_test_at=NOW - timedelta(days=90)) == {}


class TestDiff:
    def test_first_run_has_no_diff(self) -> None:
        current = assess(two_healthy_sites(), POLICY, NOW, RECENT_RESTORE_TEST).normalised
        assert diff(None, current) is None

    def test_unchanged_input_has_no_changes(self) -> None:
        current = assess(two_healthy_sites(), POLICY, NOW, RECENT_RESTORE_TEST).normalised
        assert diff(current, current) == []

    def test_new_backups_check_status_locations_and_findings(self) -> None:
        before = assess(two_healthy_sites(), POLICY, NOW, RECENT_RESTORE_TEST).normalised
        damaged = CheckResult(kind="check", exit_code=1, status="data-errors", messages=("errors found",))
        later = NOW + timedelta(days=1)
        after_observations = [
            repo("ams", "dc-ams-1", [backup(timedelta(hours=10)), backup(timedelta(hours=-20))]),
            repo("rtm", "dc-rtm-1", [backup(timedelta(hours=11))], [damaged]),
            repo("fra", "dc-fra-1", [backup(timedelta(hours=-22))]),
        ]
        after = assess(after_observations, POLICY, later, RECENT_RESTORE_TEST).normalised
        changes = {(change.subject, change.description) for change in diff(before, after) or []}
        subjects = {subject for subject, _ in changes}
        assert ("fra", "repository added (restic, dc-fra-1)") in changes
        assert any(subject == "ams:web1" and "(1 → 2 backups)" in text for subject, text in changes)
        assert ("rtm", "check: ok → data-errors") in changes
        assert ("dc-rtm-1", "location no longer holds a recent backup") in changes
        assert ("dc-fra-1", "location now holds a recent backup") in changes
        assert any(
            subject == "check-failed:rtm:check" and text.startswith("new finding (critical)")
            for subject, text in changes
        )
        assert "backup-stale:rtm:web1" in subjects

    def test_resolved_findings_and_removed_repositories(self) -> None:
        before_observations = [
            *two_healthy_sites(),
            repo("old", "dc-ams-1", [backup(timedelta(days=4))]),
        ]
        before = assess(before_observations, POLICY, NOW, None).normalised
        after = assess(two_healthy_sites(), POLICY, NOW, RECENT_RESTORE_TEST).normalised
        changes = {(change.subject, change.description) for change in diff(before, after) or []}
        assert ("old", "repository no longer configured") in changes
        assert (
            "backup-stale:old:web1",
            "resolved: Backup of web1 in old is older than the RPO",
        ) in changes
        assert ("restore-test-overdue", "resolved: No restore test in the last 90 days") in changes
        assert (
            "restore test",
            f"newest restore test none → {RECENT_RESTORE_TEST.isoformat()}",
        ) in changes
