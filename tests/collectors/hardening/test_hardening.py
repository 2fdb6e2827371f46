"""The hardening collector on two Lynis reports recorded on the same machine before and after
a change."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors.base import CollectContext, Severity
from collectors.hardening import HardeningCollector, HardeningConfig
from collectors.hardening.lynis import LynisParseError, parse_lynis_report
from collectors.runner import execute

LYNIS = Path(__file__).resolve().parent.parent / "recordings" / "lynis"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def config(report: str | Path, **extra) -> HardeningConfig:
    path = report if isinstance(report, Path) else LYNIS / report
    return HardeningConfig.model_validate({"hosts": [{"name": "vm", "lynis_report": str(path)}], **extra})


def collect(cfg: HardeningConfig, tmp_path: Path, previous=None, now: datetime = NOW):
    return HardeningCollector().collect(
        CollectContext("hardening", cfg, now, tmp_path, logging.getLogger("t"), previous)
    )


class TestParser:
    def test_recorded_report(self) -> None:
        report = parse_lynis_report((LYNIS / "lynis-report.run1.dat").read_text())
        assert (report.lynis_version, report.hardening_index, report.hostname) == ("3.0.8", 57, "vm")
        assert [w.test for w in report.warnings] == ["PKGS-7392", "FIRE-4512", "LOGG-2138"]
        assert len(report.suggestions) == 46
        assert len(report.tests_executed) > 200 and "SSH-7402" in report.tests_executed
        assert report.finished == datetime(2026, 12, 1, 8, 12, 11)

    @pytest.mark.parametrize("keep", [0, 1, 100, 458])
    def test_report_cut_off_before_finish(self, keep: int) -> None:
        lines = (LYNIS / "lynis-report.run1.dat").read_text().splitlines()[:keep]
        with pytest.raises(LynisParseError, match="empty report|no 'finish=true'"):
            parse_lynis_report("\n".join(lines))

    def test_other_key_value_file(self) -> None:
        with pytest.raises(LynisParseError, match="not a Lynis report: no report_version_major"):
            parse_lynis_report("foo=bar\nfinish=true\n")


class TestCollector:
    def test_findings_of_the_first_run(self, tmp_path: Path) -> None:
        result = collect(config("lynis-report.run1.dat"), tmp_path)
        found = {f.key: f.severity for f in result.findings}
        assert found == {
            "hardening-index:vm": Severity.high,  # 57 < 70
            "lynis-warning:vm:FIRE-4512": Severity.medium,
            "lynis-warning:vm:LOGG-2138": Severity.medium,
            "lynis-warning:vm:PKGS-7392": Severity.medium,
            "lynis-suggestions:vm": Severity.info,
        }
        host = result.normalised["hosts"]["vm"]
        assert (host["hardening_index"], host["tests_executed"], len(host["suggestions"])) == (57, 252, 46)
        assert [a.kind for a in result.artifacts] == ["raw", "normalised", "report"]

    def test_threshold_is_the_organisations(self, tmp_path: Path) -> None:
        result = collect(config("lynis-report.run1.dat", minimum_index=55), tmp_path)
        assert "hardening-index:vm" not in {f.key for f in result.findings}

    def test_diff_between_runs(self, tmp_path: Path) -> None:
        first = collect(config("lynis-report.run1.dat"), tmp_path / "a")
        second = collect(config("lynis-report.run2.dat"), tmp_path / "b", previous=first.normalised)
        changes = second.normalised["hosts"]["vm"]["changes"]
        assert changes["hardening_index"] == [57, 58]
        assert changes["suggestions_resolved"] == [
            "PKGS-7370: Install debsums utility for the verification of packages with known good database.",
            "PKGS-7394: Install package apt-show-versions for patch management purposes",
        ]
        assert changes["warnings_added"] == changes["warnings_resolved"] == []
        assert "resolved suggestion PKGS-7370" in second.artifacts[2].data.decode()

    def test_stale_report(self, tmp_path: Path) -> None:
        result = collect(config("lynis-report.run2.dat"), tmp_path, now=NOW + timedelta(days=10))
        assert {f.key: f.severity for f in result.findings}["report-stale:vm"] == Severity.high

    def test_truncated_report_fails_the_run_naming_the_file(self, tmp_path: Path) -> None:
        cut = tmp_path / "lynis-report.dat"
        cut.write_text("\n".join((LYNIS / "lynis-report.run1.dat").read_text().splitlines()[:300]))
        outcome = execute(HardeningCollector(), config(cut), instance_name="h", now=NOW, timeout_seconds=60)
        assert not outcome.ok and "lynis-report.dat: not a complete Lynis report: no 'finish=true'" in outcome.error


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hosts": []}, "at least 1"),
        ({"hosts": [{"name": "a", "command": "lynis audit system"}]}, "Extra inputs"),
        ({"hosts": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"hosts": [{"name": "a"}], "minimum_index": 101}, "less than or equal"),
    ],
)
def test_config_is_validated(data, message) -> None:
    with pytest.raises(ValidationError, match=message):
        HardeningConfig.model_validate(data)
