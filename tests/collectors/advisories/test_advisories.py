from __future__ import annotations

import functools
import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import referencing
import referencing.jsonschema
from pydantic import ValidationError

from collectors.advisories import AdvisoriesCollector
from collectors.advisories.csaf import cpe_matches, in_range, parse_advisory
from collectors.base import Collector, CollectorError, Severity
from tests.collectors.part3 import RECORDINGS, context, raw_members

CSAF = RECORDINGS / "csaf"
WHITE = CSAF / "provider" / ".well-known" / "csaf" / "white"
DOCUMENTS = sorted(WHITE.rglob("ncsc-*.json"))
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIREWALL_CPE = "cpe:2.3:o:fortinet:fortios:7.4.3:*:*:*:*:*:*:*"


@functools.cache
def csaf_validator() -> jsonschema.Draft202012Validator:
    schemas = {path.name: json.loads(path.read_text()) for path in (CSAF / "schema").glob("*.json")}
    registry = referencing.Registry().with_resources(
        (
            f"https://www.first.org/cvss/{name.replace('_', '-').replace('-0.json', '.0.json').replace('-1.json', '.1.json')}",
            referencing.Resource.from_contents(schemas[name], default_specification=referencing.jsonschema.DRAFT7),
        )
        for name in ("cvss_v2_0.json", "cvss_v3_0.json", "cvss_v3_1.json")
    )
    return jsonschema.Draft202012Validator(schemas["csaf_2_0.json"], registry=registry)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_test_documents_validate_against_the_oasis_schema(path: Path) -> None:
    csaf_validator().validate(json.loads(path.read_text()))


def test_the_schema_check_can_fail() -> None:
    document = json.loads(DOCUMENTS[0].read_text())
    document["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = 11
    with pytest.raises(jsonschema.ValidationError):
        csaf_validator().validate(document)


def test_parse_advisory() -> None:
    advisory = parse_advisory(json.loads((WHITE / "2026" / "ncsc-2026-0412.json").read_text()))
    assert (advisory.tracking_id, advisory.severity, advisory.score, advisory.cves) == (
        "NCSC-2026-0412",
        "high",
        7.5,
        ["CVE-2026-41871"],
    )
    [affected] = advisory.affected
    assert (affected.name, affected.version_range) == ("openssl", "vers:deb/>=3.0.0|<3.0.20-1~deb12u1")
    [fixed] = advisory.fixed
    assert (fixed.name, fixed.version) == ("openssl", "3.0.20-1~deb12u1")  # from the purl


@pytest.mark.parametrize(
    ("installed", "version_range", "inside"),
    [
        ("3.0.19-1~deb12u2", "vers:deb/>=3.0.0|<3.0.20-1~deb12u1", True),
        ("3.0.20-1~deb12u1", "vers:deb/>=3.0.0|<3.0.20-1~deb12u1", False),
        ("1.1.1w-0+deb11u1", "vers:deb/>=3.0.0|<3.0.20-1~deb12u1", False),
        ("1.1.1w-0+deb11u1", "vers:deb/>=1.1.1|<1.1.1x|>=3.0.0|<3.0.20", True),
        ("1:9.2p1-2+deb12u6", "vers:deb/<1:9.2p1-2+deb12u7", True),
        ("1:9.2p1-2+deb12u7", "vers:deb/<1:9.2p1-2+deb12u7", False),
        ("2.5.0-1", "vers:deb/*", True),
        ("2.5.0-1", "vers:deb/=2.5.0-1|=2.6.0-1", True),
        ("2.5.0-1", "<= 2.5.0-1", True),
        ("2.5.0-2", ">= 2.0, < 2.5.0-2", False),
        ("2.5.0-2", "all versions before the fix", None),
    ],
)
def test_version_ranges(installed: str, version_range: str, inside: bool | None) -> None:
    assert in_range(installed, version_range) is inside


def test_cpe_matching() -> None:
    assert cpe_matches(FIREWALL_CPE, "cpe:2.3:o:fortinet:fortios:7.4.3:*:*:*:*:*:*:*")
    assert cpe_matches(FIREWALL_CPE, "cpe:2.3:o:fortinet:fortios:*:*:*:*:*:*:*:*")
    assert not cpe_matches(FIREWALL_CPE, "cpe:2.3:o:fortinet:fortios:7.4.4:*:*:*:*:*:*:*")
    assert not cpe_matches(FIREWALL_CPE, "cpe:2.3:o:fortinet:fortiproxy:7.4.3:*:*:*:*:*:*:*")


def config(**overrides: object) -> dict:
    return {
        "sources": [{"type": "csaf-folder", "path": str(WHITE)}],
        "inventory": [
            {"host": "deb1", "dpkg_query_path": str(CSAF / "dpkg-query-deb1.txt")},
            {"host": "edge-fw", "cpes": [FIREWALL_CPE]},
        ],
        **overrides,
    }


class TestCollect:
    def test_protocol(self) -> None:
        assert isinstance(AdvisoriesCollector(), Collector)

    def test_folder_matching_and_findings(self, tmp_path: Path) -> None:
        collector = AdvisoriesCollector()
        result = collector.collect(context(collector, config(), tmp_path, now=NOW))
        advisories = result.normalised["advisories"]
        assert {tid: bool(row["in_period"]) for tid, row in advisories.items()} == {
            "NCSC-2026-0398": False,
            "NCSC-2026-0412": True,
            "NCSC-2026-0419": True,
            "NCSC-2026-0423": True,
            "NCSC-2026-0427": True,
        }
        assert advisories["NCSC-2026-0412"]["affected_hosts"] == {"deb1": ["openssl 3.0.19-1~deb12u2"]}
        assert advisories["NCSC-2026-0423"]["affected_hosts"] == {}  # sudo is not installed
        assert advisories["NCSC-2026-0398"]["affected_hosts"] == {"edge-fw": [FIREWALL_CPE]}
        assert {f.key: f.severity for f in result.findings} == {
            # high, affects openssl, published 10 days ago without a decision
            "advisory-open:NCSC-2026-0412": Severity.high,
            # the firewall's FortiOS: outside the period but within the lookback, still open
            "advisory-open:NCSC-2026-0398": Severity.high,
        }  # 0419 is medium, 0427 (critical) is only three days old
        report = result.artifacts[2].data.decode()  # type: ignore[union-attr]
        assert "NCSC-2026-0419" in report and "Earlier advisories still affecting" in report
        later = collector.collect(
            context(collector, config(), tmp_path / "later", now=NOW + timedelta(days=6), previous=result.normalised)
        )
        # the critical OpenSSH advisory is now more than 7 days old; nothing new was published
        assert later.normalised["diff"]["findings_opened"] == [
            "advisory-open:NCSC-2026-0427",
            "no-advisories-in-period",
        ]
        assert {f.key: f.severity for f in later.findings}["advisory-open:NCSC-2026-0427"] == Severity.critical

    def test_decisions_close_findings_and_are_reported(self, tmp_path: Path) -> None:
        decisions = [
            {
                "advisory": "NCSC-2026-0398",
                "status": "mitigated",
                "by": "it.ops",
                "at": "2026-11-03T09:00:00Z",
                "note": "SSL-VPN disabled on the edge firewall until the upgrade window",
            },
            {"advisory": "NCSC-2026-0412", "status": "patched", "by": "it.ops", "at": "2026-11-26T10:00:00Z"},
        ]
        collector = AdvisoriesCollector()
        result = collector.collect(context(collector, config(decisions=decisions), tmp_path, now=NOW))
        # 0412 is marked patched while openssl 3.0.19 is still installed: the decision is contradicted
        assert {f.key: f.severity for f in result.findings} == {
            "advisory-still-affected:NCSC-2026-0412": Severity.medium
        }
        assert result.normalised["summary"]["decided"] == ["NCSC-2026-0398", "NCSC-2026-0412"]
        assert "SSL-VPN disabled" in result.artifacts[2].data.decode()  # type: ignore[union-attr]

    def test_provider_over_http(self, tmp_path: Path) -> None:
        site = tmp_path / "site"
        shutil.copytree(CSAF / "provider", site)
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
        handler.log_message = lambda *args: None  # type: ignore[method-assign]
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/.well-known/csaf"
        metadata = site / ".well-known" / "csaf" / "provider-metadata.json"
        document = json.loads(metadata.read_text())
        document["distributions"] = [{"directory_url": f"{base}/white/"}]
        metadata.write_text(json.dumps(document))
        try:
            collector = AdvisoriesCollector()
            cfg = config(
                sources=[{"type": "csaf-provider", "metadata_url": f"{base}/provider-metadata.json"}], lookback_days=14
            )
            result = collector.collect(context(collector, cfg, tmp_path / "w", now=NOW))
            # 0398 changed on 2 November: outside the 14-day lookback, so not fetched at all
            assert sorted(result.normalised["advisories"]) == [
                "NCSC-2026-0412",
                "NCSC-2026-0419",
                "NCSC-2026-0423",
                "NCSC-2026-0427",
            ]
            members = raw_members(result.artifacts[0].path)  # type: ignore[arg-type]
            assert members["provider/changes-csv/changes.csv"] == (WHITE / "changes.csv").read_bytes()
            assert members["provider/csaf/ncsc-2026-0412.json"] == (WHITE / "2026" / "ncsc-2026-0412.json").read_bytes()
            (site / ".well-known" / "csaf" / "white" / "changes.csv").write_text(
                '"../../../etc/passwd.json","2026-11-27T00:00:00Z"\n'
            )
            with pytest.raises(CollectorError, match="refusing path"):
                collector.collect(context(collector, cfg, tmp_path / "x", now=NOW))
        finally:
            server.shutdown()

    def test_empty_feed_is_a_finding(self, tmp_path: Path) -> None:
        empty = tmp_path / "mirror"
        empty.mkdir()
        collector = AdvisoriesCollector()
        result = collector.collect(
            context(collector, config(sources=[{"type": "csaf-folder", "path": str(empty)}]), tmp_path / "w", now=NOW)
        )
        assert [f.key for f in result.findings] == ["no-advisories-in-period"]

    def test_not_csaf_fails_the_run(self, tmp_path: Path) -> None:
        mirror = tmp_path / "mirror"
        mirror.mkdir()
        (mirror / "x.json").write_text('{"document": {"csaf_version": "1.2"}}')
        collector = AdvisoriesCollector()
        with pytest.raises(CollectorError, match="x.json"):
            collector.collect(
                context(
                    collector, config(sources=[{"type": "csaf-folder", "path": str(mirror)}]), tmp_path / "w", now=NOW
                )
            )

    @pytest.mark.parametrize(
        "overrides",
        [
            {"inventory": []},
            {"inventory": [{"host": "a"}]},
            {"inventory": [{"host": "a", "dpkg_query_path": "/x", "run_dpkg_query": True}]},
            {"inventory": [{"host": "a", "cpes": ["fortios 7.4"]}]},
            {"decisions": [{"advisory": "X", "status": "ignored", "by": "me", "at": "2026-11-01T00:00:00Z"}]},
            {"sources": [{"type": "csaf-provider", "metadata_url": "ftp://x/provider-metadata.json"}]},
            {"period_days": 30, "lookback_days": 7},
        ],
    )
    def test_bad_config(self, overrides: dict) -> None:
        with pytest.raises(ValidationError):
            AdvisoriesCollector.Config.model_validate(config(**overrides))
