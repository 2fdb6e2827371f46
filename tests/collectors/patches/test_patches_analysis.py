from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collectors.base import Severity
from collectors.patches import analysis
from collectors.patches.models import AptTransaction, DpkgEvent, PackageChange, PendingUpdate

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICY = analysis.Policy(security_pending_days=7, max_days_without_upgrade=7)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def pending(package: str, version: str = "2.0", archive: str = "stable-security") -> PendingUpdate:
    return PendingUpdate(package=package, version=version, current_version="1.0", arch="amd64", archives=(archive,))


def upgrade_at(started: datetime, package: str = "bash", commandline: str = "apt-get upgrade") -> AptTransaction:
    change = PackageChange(action="upgrade", package=package, arch="amd64", version="2.0", old_version="1.0")
    return AptTransaction(started=started, ended=started, commandline=commandline, requested_by="", changes=(change,))


def summary(records: analysis.HostRecords, previous_host=None, now: datetime = NOW) -> dict:
    return analysis.summarise_host(
        os_name="debian", zone=AMSTERDAM, records=records, previous_host=previous_host, now=now
    )


class TestPendingAge:
    def test_first_seen_falls_back_to_now(self) -> None:
        host = summary(analysis.HostRecords(pending=[pending("openssl")]))
        (item,) = host["pending"]
        assert item["first_seen"] == NOW.isoformat()
        assert item["days_pending"] == 0
        assert item["security"]

    def test_first_seen_is_carried_over_for_the_same_version_only(self) -> None:
        first_seen = (NOW - timedelta(days=9)).isoformat()
        previous = {
            "pending": [
                {"package": "openssl", "version": "2.0", "first_seen": first_seen},
                {"package": "curl", "version": "1.5", "first_seen": first_seen},
            ]
        }
        host = summary(analysis.HostRecords(pending=[pending("openssl"), pending("curl")]), previous)
        ages = {item["package"]: (item["first_seen"], item["days_pending"]) for item in host["pending"]}
        assert ages == {"openssl": (first_seen, 9), "curl": (NOW.isoformat(), 0)}


class TestFindings:
    def test_security_update_past_policy_is_high(self) -> None:
        previous = {
            "pending": [
                {
                    "package": "openssl",
                    "version": "2.0",
                    "first_seen": (NOW - timedelta(days=8)).isoformat(),
                },
                {
                    "package": "bash",
                    "version": "2.0",
                    "first_seen": (NOW - timedelta(days=30)).isoformat(),
                },
            ]
        }
        records = analysis.HostRecords(
            transactions=[upgrade_at(datetime(2026, 11, 27, 9, 0))],
            pending=[pending("openssl"), pending("bash", archive="stable")],
        )
        (finding,) = analysis.host_findings("deb1", summary(records, previous), POLICY)
        assert finding.key == "security-updates-overdue:deb1"
        assert finding.severity is Severity.high
        assert "openssl 2.0 (8 d)" in finding.detail
        assert "bash" not in finding.detail  # not a security update: no finding

    def test_security_update_exactly_at_policy_is_not_overdue(self) -> None:
        previous = {
            "pending": [
                {
                    "package": "openssl",
                    "version": "2.0",
                    "first_seen": (NOW - timedelta(days=7)).isoformat(),
                }
            ]
        }
        records = analysis.HostRecords(
            transactions=[upgrade_at(datetime(2026, 11, 27, 9, 0))], pending=[pending("openssl")]
        )
        assert analysis.host_findings("deb1", summary(records, previous), POLICY) == []

    def test_upgrade_too_long_ago_is_medium(self) -> None:
        records = analysis.HostRecords(transactions=[upgrade_at(datetime(2026, 11, 20, 9, 0))], pending=[])
        host = summary(records)
        assert host["last_upgrade_at"] == "2026-11-20T08:00:00+00:00"  # Amsterdam is UTC+1 in November
        assert host["days_since_upgrade"] == 8
        (finding,) = analysis.host_findings("deb1", host, POLICY)
        assert (finding.key, finding.severity) == ("no-recent-upgrade:deb1", Severity.medium)
        assert "8 days ago" in finding.detail

    def test_no_upgrade_in_logs_is_medium(self) -> None:
        install = AptTransaction(
            started=datetime(2026, 11, 27, 9, 0),
            ended=None,
            commandline="apt-get install hello",
            requested_by="",
            changes=(PackageChange(action="install", package="hello", arch="amd64", version="2.10-3"),),
        )
        host = summary(analysis.HostRecords(transactions=[install]))
        assert host["last_upgrade_at"] is None
        (finding,) = analysis.host_findings("deb1", host, POLICY)
        assert "no upgrade is recorded" in finding.detail

    def test_dry_run_upgrades_do_not_count(self) -> None:
        records = analysis.HostRecords(
            transactions=[
                upgrade_at(datetime(2026, 11, 1, 9, 0)),
                upgrade_at(
                    datetime(2026, 11, 28, 9, 0),
                    commandline="/usr/bin/unattended-upgrade --dry-run -v",
                ),
            ]
        )
        host = summary(records)
        assert host["days_since_upgrade"] == 27
        assert host["simulated_transactions_ignored"] == 1
        assert len(host["changes"]) == 1


class TestChanges:
    def test_dpkg_only_changes_are_added_once(self) -> None:
        records = analysis.HostRecords(
            transactions=[upgrade_at(datetime(2026, 11, 27, 9, 0))],
            dpkg_events=[
                DpkgEvent(datetime(2026, 11, 27, 9, 0, 5), "upgrade", "bash", "amd64", "1.0", "2.0"),
                DpkgEvent(datetime(2026, 11, 27, 10, 0), "install", "local-tool", "amd64", None, "0.1"),
                DpkgEvent(datetime(2026, 11, 27, 10, 5), "upgrade", "local-tool", "amd64", "0.1", "0.1"),
            ],
        )
        changes = summary(records)["changes"]
        assert [(c["package"], c["action"], c["via"]) for c in changes] == [
            ("bash", "upgrade", "apt"),
            ("local-tool", "install", "dpkg"),
        ]

    def test_merge_pending_marks_security_from_either_source(self) -> None:
        merged = analysis.merge_pending(
            [pending("krb5", archive="stable")], [pending("krb5", archive="stable-security")]
        )
        assert merged is not None and merged[0].security
        assert analysis.merge_pending(None, None) is None
        assert analysis.merge_pending([], None) == []


class TestDiff:
    def test_first_run_has_no_diff(self) -> None:
        assert analysis.diff_against_previous({}, [], None) is None

    def test_changes_pending_and_findings(self) -> None:
        before = summary(
            analysis.HostRecords(
                transactions=[upgrade_at(datetime(2026, 11, 1, 9, 0))],
                pending=[pending("openssl"), pending("curl")],
            )
        )
        previous = {
            "collected_at": "2026-11-27T12:00:00+00:00",
            "hosts": {"deb1": before, "old": before},
            "finding_keys": ["no-recent-upgrade:deb1"],
        }
        now = summary(
            analysis.HostRecords(
                transactions=[
                    upgrade_at(datetime(2026, 11, 1, 9, 0)),
                    upgrade_at(datetime(2026, 11, 28, 9, 0), package="curl"),
                ],
                pending=[pending("openssl"), pending("zlib")],
            )
        )
        diff = analysis.diff_against_previous({"deb1": now, "new": now}, ["security-updates-overdue:deb1"], previous)
        assert diff["hosts_added"] == ["new"] and diff["hosts_removed"] == ["old"]
        assert diff["findings_opened"] == ["security-updates-overdue:deb1"]
        assert diff["findings_closed"] == ["no-recent-upgrade:deb1"]
        host = diff["hosts"]["deb1"]
        assert host["pending_new"] == [("zlib", "2.0")]
        assert host["pending_gone"] == [("curl", "2.0")]
        assert [c["package"] for c in host["new_changes"]] == ["curl"]
        assert host["last_upgrade_before"] == "2026-11-01T08:00:00+00:00"
        assert host["last_upgrade_now"] == "2026-11-28T08:00:00+00:00"
