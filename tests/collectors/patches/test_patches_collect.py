from __future__ import annotations

import gzip
import json
import sys
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from collectors.base import Collector, CollectorError, Severity
from collectors.patches import PatchCollector, PatchConfig

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
APT = RECORDINGS / "apt"
WINDOWS = RECORDINGS / "windows"


def debian_host(**inputs: Any) -> dict[str, Any]:
    return {"hosts": [{"name": "deb1", "os": "debian", **inputs}]}


def raw_members(artifact_path: Path) -> dict[str, bytes]:
    with tarfile.open(artifact_path, "r:gz") as bundle:
        return {member.name: bundle.extractfile(member).read() for member in bundle.getmembers()}  # type: ignore[union-attr]


def test_matches_the_collector_protocol() -> None:
    collector = PatchCollector()
    assert isinstance(collector, Collector)
    assert (collector.name, collector.version, collector.default_schedule) == (
        "patches",
        "1.0.0",
        "0 5 * * *",
    )
    assert collector.requirements == ("OPS-2/patches",)


class TestCollectEndToEnd:
    def test_first_run_on_recordings(self, make_context, recorded_config) -> None:
        result = PatchCollector().collect(make_context(recorded_config))

        assert [(a.kind, a.content_type) for a in result.artifacts] == [
            ("raw", "application/gzip"),
            ("normalised", "application/json"),
            ("report", "text/html"),
        ]
        raw, normalised, report = result.artifacts
        members = raw_members(raw.path)  # type: ignore[arg-type]
        assert members == {
            "deb1/apt-history/history.log": (APT / "history.log").read_bytes(),
            "deb1/apt-history/history.log.1.gz": (APT / "history.log.1.gz").read_bytes(),
            "deb1/dpkg-log/dpkg.log": (APT / "dpkg.log").read_bytes(),
            "deb1/unattended-upgrades-log/unattended-upgrades.log": (APT / "unattended-upgrades.log").read_bytes(),
            "deb1/apt-list-upgradable/apt-list-upgradable.txt": (APT / "apt-list-upgradable.txt").read_bytes(),
            "deb1/apt-get-simulate/apt-get-s-upgrade.txt": (APT / "apt-get-s-upgrade.txt").read_bytes(),
            "WEB01/hotfix-csv/get-hotfix.csv": (WINDOWS / "get-hotfix.csv").read_bytes(),
        }
        assert normalised.data == json.dumps(result.normalised, indent=2, sort_keys=True).encode()

        deb1 = result.normalised["hosts"]["deb1"]
        assert deb1["last_upgrade_at"] == "2026-11-28T10:51:50+00:00"  # the jq upgrade; dry runs ignored
        assert deb1["days_since_upgrade"] == 0
        assert len(deb1["pending"]) == 124
        assert sum(item["security"] for item in deb1["pending"]) == 73
        # history.log.1.gz is a copy of history.log: its entries are not counted twice
        assert sum(1 for c in deb1["changes"] if c["package"] == "hello") == 2
        assert result.normalised["diff"] is None

        # first run: every pending update is first seen now, so only Windows is overdue
        assert [(f.key, f.severity) for f in result.findings] == [("no-recent-upgrade:WEB01", Severity.medium)]
        html = report.data.decode()  # type: ignore[union-attr]
        assert "WEB01 not upgraded within 7 days" in html
        assert "First run" in html
        assert "oldstable-security" in html

    def test_second_run_uses_previous_first_seen_and_reports_the_diff(self, make_context, recorded_config) -> None:
        first = PatchCollector().collect(make_context(recorded_config))
        later = first.normalised["collected_at"]
        context = make_context(
            recorded_config,
            now=make_context(recorded_config).now + timedelta(days=8),
            previous=first.normalised,
        )
        second = PatchCollector().collect(context)

        findings = {f.key: f for f in second.findings}
        assert set(findings) == {
            "security-updates-overdue:deb1",
            "no-recent-upgrade:deb1",
            "no-recent-upgrade:WEB01",
        }
        assert findings["security-updates-overdue:deb1"].severity is Severity.high
        assert findings["security-updates-overdue:deb1"].title.startswith("73 security update(s)")
        assert findings["no-recent-upgrade:deb1"].severity is Severity.medium
        pending = second.normalised["hosts"]["deb1"]["pending"]
        assert {item["first_seen"] for item in pending} == {later}
        assert {item["days_pending"] for item in pending} == {8}

        diff = second.normalised["diff"]
        assert diff["findings_opened"] == [
            "no-recent-upgrade:deb1",
            "security-updates-overdue:deb1",
        ]
        assert diff["hosts"]["deb1"]["new_changes"] == []
        html = second.artifacts[2].data.decode()  # type: ignore[union-attr]
        assert "73 security update(s) pending longer than 7 days on deb1" in html
        assert "Findings opened: no-recent-upgrade:deb1, security-updates-overdue:deb1" in html
        assert f"Previous run: {later}" in html

    def test_report_escapes_log_content(self, make_context, tmp_path) -> None:
        history = tmp_path / "history.log"
        history.write_text(
            "Start-Date: 2026-11-27  09:00:00\n"
            'Commandline: apt-get install "<script>alert(1)</script>"\n'
            "Upgrade: bash:amd64 (5.2.15-2+b8, 5.2.15-2+b13)\n"
            "End-Date: 2026-11-27  09:00:05\n"
        )
        result = PatchCollector().collect(make_context(debian_host(apt_history=[str(history)])))
        html = result.artifacts[2].data.decode()  # type: ignore[union-attr]
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "Not checked for this host." in html


class TestCommands:
    def test_command_output_is_parsed_and_kept_raw(self, make_context) -> None:
        source = APT / "apt-list-upgradable.txt"
        command = [
            sys.executable,
            "-c",
            f"import sys; sys.stdout.buffer.write(open({str(source)!r}, 'rb').read())",
        ]
        result = PatchCollector().collect(make_context(debian_host(apt_list_upgradable={"command": command})))
        assert len(result.normalised["hosts"]["deb1"]["pending"]) == 124
        assert raw_members(result.artifacts[0].path)["deb1/apt-list-upgradable.stdout"] == source.read_bytes()  # type: ignore[arg-type]

    def test_failing_command(self, make_context) -> None:
        command = [
            sys.executable,
            "-c",
            "import sys; sys.stderr.write('E: Could not open lock file'); sys.exit(100)",
        ]
        with pytest.raises(CollectorError, match="exited with 100: E: Could not open lock file"):
            PatchCollector().collect(make_context(debian_host(apt_get_simulate={"command": command})))

    def test_missing_program(self, make_context) -> None:
        with pytest.raises(CollectorError, match="command not found: no-such-apt-tool"):
            PatchCollector().collect(make_context(debian_host(apt_get_simulate={"command": ["no-such-apt-tool"]})))


class TestBadInput:
    def test_corrupt_gzip_names_the_file(self, make_context, tmp_path) -> None:
        rotated = tmp_path / "history.log.2.gz"
        rotated.write_bytes((APT / "history.log.1.gz").read_bytes()[:500])
        with pytest.raises(CollectorError, match=r"history\.log\.2\.gz: corrupt or truncated gzip data"):
            PatchCollector().collect(make_context(debian_host(apt_history=[str(rotated)])))

    def test_truncated_log_inside_gzip_names_file_and_line(self, make_context, tmp_path) -> None:
        text = (APT / "history.log").read_text().splitlines()
        rotated = tmp_path / "history.log.3.gz"
        rotated.write_bytes(gzip.compress(("\n".join(text[:3]) + "\nUpgrade: libsystemd0:amd64 (252.36").encode()))
        with pytest.raises(
            CollectorError,
            match=r"history\.log\.3\.gz: line 4: cannot parse the Upgrade package list",
        ):
            PatchCollector().collect(make_context(debian_host(apt_history=[str(rotated)])))

    def test_binary_file(self, make_context, tmp_path) -> None:
        dpkg = tmp_path / "dpkg.log"
        dpkg.write_bytes(b"2026-11-28 10:51:48 status installed hello:amd64 2.10-3\n\xff\xfe\x00garbage")
        with pytest.raises(CollectorError, match=r"dpkg\.log: not text in the expected encoding"):
            PatchCollector().collect(make_context(debian_host(dpkg_log=[str(dpkg)])))

    def test_truncated_simulation_never_reads_as_nothing_pending(self, make_context) -> None:
        truncated = APT / "apt-get-s-upgrade.truncated.txt"
        with pytest.raises(CollectorError, match=r"apt-get-s-upgrade\.truncated\.txt: .*announces 124 package"):
            PatchCollector().collect(make_context(debian_host(apt_get_simulate={"path": str(truncated)})))

    def test_missing_log(self, make_context, tmp_path) -> None:
        with pytest.raises(CollectorError, match="no file matches apt-history pattern"):
            PatchCollector().collect(make_context(debian_host(apt_history=[str(tmp_path / "history.log*")])))

    def test_empty_logs_and_an_empty_list_are_valid(self, make_context, tmp_path) -> None:
        for name in ("history.log", "dpkg.log"):
            (tmp_path / name).write_bytes(b"")
        # apt list prints its header even when nothing is upgradable
        (tmp_path / "upgradable.txt").write_bytes(b"Listing...\n")
        result = PatchCollector().collect(
            make_context(
                debian_host(
                    apt_history=[str(tmp_path / "history.log")],
                    dpkg_log=[str(tmp_path / "dpkg.log")],
                    apt_list_upgradable={"path": str(tmp_path / "upgradable.txt")},
                )
            )
        )
        host = result.normalised["hosts"]["deb1"]
        assert (host["changes"], host["pending"], host["pending_checked"]) == ([], [], True)
        assert [f.key for f in result.findings] == ["no-recent-upgrade:deb1"]


class TestConfig:
    def test_defaults(self, recorded_config) -> None:
        config = PatchConfig.model_validate(recorded_config)
        assert (config.security_pending_days, config.max_days_without_upgrade) == (7, 7)

    @pytest.mark.parametrize(
        ("hosts", "message"),
        [
            (
                [{"name": "w", "os": "windows", "hotfix_csv": {"path": "x"}, "dpkg_log": ["y"]}],
                "apt/dpkg inputs are for debian",
            ),
            ([{"name": "w", "os": "windows"}], "needs hotfix_csv"),
            ([{"name": "d", "os": "debian"}], "needs at least one apt/dpkg input"),
            ([{"name": "d", "os": "debian", "dpkg_log": ["y"]}] * 2, "duplicate host name"),
            (
                [{"name": "d", "os": "debian", "dpkg_log": ["y"], "timezone": "Mars/Base"}],
                "unknown time zone",
            ),
            (
                [
                    {
                        "name": "d",
                        "os": "debian",
                        "apt_get_simulate": {"path": "x", "command": ["apt-get"]},
                    }
                ],
                "exactly one of path or command",
            ),
            ([{"name": "../d", "os": "debian", "dpkg_log": ["y"]}], "String should match pattern"),
        ],
    )
    def test_rejected(self, hosts, message) -> None:
        with pytest.raises(ValidationError, match=message):
            PatchConfig.model_validate({"hosts": hosts})
