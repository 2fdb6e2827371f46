from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.base import CollectContext, CollectorError, CollectResult, Severity
from collectors.firewall import FirewallCollector

Recording = Callable[[str], Path]
MakeContext = Callable[..., CollectContext]


def _config(recording: Recording, ipv4: str = "iptables/host-a.rules") -> dict[str, Any]:
    return {
        "sources": [
            {
                "type": "iptables",
                "path": str(recording(ipv4)),
                "ipv6_path": str(recording("iptables/host-a.v6.rules")),
            },
            {"type": "nftables", "name": "edge", "path": str(recording("nftables/edge.json"))},
        ]
    }


def _artifact(result: CollectResult, kind: str):
    (artifact,) = [a for a in result.artifacts if a.kind == kind]
    return artifact


def _members(result: CollectResult) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(_artifact(result, "raw").data), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


@pytest.fixture
def two_runs(recording: Recording, make_context: MakeContext) -> tuple[CollectResult, CollectResult]:
    """The previous review of host-a, then this week's, compared with it."""
    collector = FirewallCollector()
    first = collector.collect(
        make_context(
            _config(recording, "iptables/host-a.previous.rules"),
            now=datetime(2026, 11, 16, 6, 0, tzinfo=UTC),
        )
    )
    # the portal hands the previous run's normalised data back as stored JSON
    previous = json.loads(_artifact(first, "normalised").data)
    second = collector.collect(make_context(_config(recording), previous=previous))
    return first, second


class TestEndToEnd:
    def test_three_artifacts(self, two_runs: tuple[CollectResult, CollectResult]) -> None:
        _, result = two_runs
        assert [(a.kind, a.content_type, a.filename) for a in result.artifacts] == [
            ("raw", "application/gzip", "firewall-raw-20261123T060000Z.tar.gz"),
            ("normalised", "application/json", "firewall-normalised-20261123T060000Z.json"),
            ("report", "text/html", "firewall-report-20261123T060000Z.html"),
        ]
        assert _artifact(result, "normalised").data == json.dumps(result.normalised, indent=2, sort_keys=True).encode()

    def test_raw_archive_holds_the_recorded_bytes(
        self, two_runs: tuple[CollectResult, CollectResult], recording: Recording
    ) -> None:
        _, result = two_runs
        assert _members(result) == {
            "iptables/ipv4.rules": recording("iptables/host-a.rules").read_bytes(),
            "iptables/ipv6.rules": recording("iptables/host-a.v6.rules").read_bytes(),
            "edge.json": recording("nftables/edge.json").read_bytes(),
        }

    def test_findings(self, two_runs: tuple[CollectResult, CollectResult]) -> None:
        _, result = two_runs
        keys = {f.key: f.severity for f in result.findings}
        assert keys["admin-port-open:iptables/ipv4:filter/INPUT:tcp/3389:0.0.0.0/0"] == Severity.high
        assert keys["accept-all:iptables/ipv6:filter/INPUT:any/all:::/0@eth0"] == Severity.critical
        assert keys["admin-port-open:edge:inet/filter/input:tcp/23:any"] == Severity.high
        assert keys["policy-accept:edge:inet/filter/forward"] == Severity.high
        assert len(keys) == 13
        assert result.normalised["summary"]["findings"] == {
            "info": 3,
            "low": 3,
            "medium": 0,
            "high": 6,
            "critical": 1,
        }

    def test_normalised_needs_signoff_and_holds_the_diff(self, two_runs: tuple[CollectResult, CollectResult]) -> None:
        first, result = two_runs
        normalised = result.normalised
        assert normalised["needs_signoff"] is True
        assert normalised["requirements"] == [
            "ACC-1/firewall",
            "COM-1/firewall-review",
            "COM-2/firewall",
        ]
        assert [i["label"] for i in normalised["inputs"]] == [
            "iptables/ipv4",
            "iptables/ipv6",
            "edge",
        ]
        assert normalised["summary"]["rules"] == 25 + 8 + 18
        changes = normalised["changes"]
        assert changes["compared_with"] == "2026-11-16T06:00:00+00:00"
        assert [r["ports"] for r in changes["added"]] == [["3389"], ["5432"]]
        assert [r["comment"] for r in changes["removed"]] == ["legacy status page"]
        assert [c["fields"] for c in changes["changed"]] == [["source"]]
        assert first.normalised["changes"] == {"compared_with": None}

    def test_report_shows_findings_and_changes_escaped(self, two_runs: tuple[CollectResult, CollectResult]) -> None:
        first, result = two_runs
        html = _artifact(result, "report").data.decode()
        assert "Awaiting sign-off." in html
        assert "administrative port tcp/3389 (rdp) open to 0.0.0.0/0 in iptables/ipv4:filter/INPUT" in html
        assert "all traffic accepted from ::/0 in iptables/ipv6:filter/INPUT" in html
        assert "administrative port tcp/23 (telnet) open to anywhere in edge:inet/filter/input" in html
        assert "2 added,\n1 removed, 1 changed, 0 policy change(s)" in html
        assert '<tr class="removed"><td>removed</td><td>iptables/ipv4:filter/INPUT</td>' in html
        assert "changed (source)" in html and "10.20.0.0/16" in html
        # comments are shown, but never as markup
        assert "temp: RDP for vendor&#39;s &#34;remote&#34; session" in html
        assert 'vendor\'s "remote"' not in html
        assert "this run is the baseline" in _artifact(first, "report").data.decode()

    def test_unchanged_rules_report_no_changes(self, recording: Recording, make_context: MakeContext) -> None:
        collector = FirewallCollector()
        first = collector.collect(make_context(_config(recording)))
        again = collector.collect(make_context(_config(recording), previous=first.normalised))
        assert again.normalised["changes"]["added"] == again.normalised["changes"]["changed"] == []
        assert "No rule or policy changed since the previous run" in _artifact(again, "report").data.decode()

    def test_previous_from_another_schema_starts_a_new_baseline(
        self, recording: Recording, make_context: MakeContext
    ) -> None:
        result = FirewallCollector().collect(make_context(_config(recording), previous={"schema": 0, "rules": "?"}))
        assert result.normalised["changes"] == {"compared_with": None}

    def test_commands_are_run_without_a_shell(self, recording: Recording, make_context: MakeContext) -> None:
        config = {
            "sources": [
                {
                    "type": "iptables",
                    "command": f"cat {recording('iptables/host-a.rules')}",
                    "ipv6_command": ["cat", str(recording("iptables/host-a.v6.rules"))],
                }
            ]
        }
        result = FirewallCollector().collect(make_context(config))
        assert result.normalised["inputs"][0]["origin"] == f"cat {recording('iptables/host-a.rules')}"
        assert _members(result)["iptables/ipv4.rules"] == recording("iptables/host-a.rules").read_bytes()


class TestFailures:
    def test_truncated_iptables_file(self, recording: Recording, make_context: MakeContext) -> None:
        path = recording("iptables/truncated.rules")
        config = {"sources": [{"type": "iptables", "path": str(path), "ipv6": False}]}
        with pytest.raises(CollectorError) as error:
            FirewallCollector().collect(make_context(config))
        assert str(error.value) == (
            f"{path}: not valid iptables-save output: truncated: table 'filter' has no COMMIT (input ends at line 20)"
        )

    def test_truncated_nft_file(self, recording: Recording, make_context: MakeContext) -> None:
        path = recording("nftables/truncated.json")
        with pytest.raises(
            CollectorError,
            match=rf"^{path}: not valid 'nft -j list ruleset' output: not valid JSON",
        ):
            FirewallCollector().collect(make_context({"sources": [{"type": "nftables", "path": str(path)}]}))

    def test_missing_file(self, tmp_path: Path, make_context: MakeContext) -> None:
        config = {"sources": [{"type": "nftables", "path": str(tmp_path / "absent.json")}]}
        with pytest.raises(CollectorError, match=r"absent.json: cannot read: No such file or directory"):
            FirewallCollector().collect(make_context(config))

    def test_binary_file(self, tmp_path: Path, make_context: MakeContext) -> None:
        path = tmp_path / "rules.gz"
        path.write_bytes(b"\x1f\x8b\x08\x00\xff")
        config = {"sources": [{"type": "iptables", "path": str(path), "ipv6": False}]}
        with pytest.raises(CollectorError, match=rf"{path}: not UTF-8 text \(byte 1\)"):
            FirewallCollector().collect(make_context(config))

    @pytest.mark.parametrize(
        ("command", "message"),
        [
            (["false"], r"^false: exited with status 1: no error output$"),
            (
                ["sh", "-c", "echo 'iptables: permission denied' >&2; exit 4"],
                r"exited with status 4: iptables: permission denied$",
            ),
            (["no-such-iptables-save"], r"no-such-iptables-save is not installed or not on PATH"),
            (["sleep", "5"], r"^sleep 5: no answer within 0.2 s$"),
        ],
    )
    def test_failing_command(self, command: list[str], message: str, make_context: MakeContext) -> None:
        config = {"sources": [{"type": "nftables", "command": command, "timeout_seconds": 0.2}]}
        with pytest.raises(CollectorError, match=message):
            FirewallCollector().collect(make_context(config))
