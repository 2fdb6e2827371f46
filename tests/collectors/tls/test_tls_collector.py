"""The TLS collector against local TLS servers started by the tests (trustme certificates)."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile

import pytest
import trustme
from pydantic import ValidationError

from collectors.base import Severity
from collectors.runner import execute
from collectors.tls import TlsCollector, TlsConfig

from .conftest import NOW


def keys(result) -> dict[str, Severity]:
    return {finding.key.split(":")[0]: finding.severity for finding in result.findings}


def test_a_well_configured_server_has_no_findings(tls_server, make_context, scan_config) -> None:
    with tls_server(versions=("TLSv1_2", "TLSv1_3")) as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    assert result.findings == []
    (endpoint,) = result.normalised["endpoints"]
    assert endpoint["chain_valid"] and endpoint["hostname_matches"]
    assert endpoint["protocols"]["TLSv1.2"] == "accepted" and endpoint["protocols"]["TLSv1.3"] == "accepted"
    assert endpoint["protocols"]["TLSv1.0"] == "refused" and endpoint["protocols"]["TLSv1.1"] == "refused"
    assert endpoint["protocols"]["SSLv3"] in ("refused", "untestable")
    leaf = endpoint["chain"][0]
    assert leaf["key_type"].startswith(("RSA", "EC")) and leaf["signature_hash"] == "sha256"
    assert endpoint["hsts"]["max_age_days"] == 365
    assert [a.kind for a in result.artifacts] == ["raw", "normalised", "report"]


def test_expired_certificate(ca, tls_server, make_context, scan_config) -> None:
    cert = ca.issue_cert("localhost", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=3))
    with tls_server(cert=cert) as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    found = keys(result)
    assert found["cert-expired"] == Severity.critical
    assert found["chain-invalid"] == Severity.high  # OpenSSL refuses the expired leaf too
    assert "expired" in result.normalised["endpoints"][0]["chain_error"]


def test_expiring_soon(ca, tls_server, make_context, scan_config) -> None:
    cert = ca.issue_cert("localhost", not_after=NOW + dt.timedelta(days=10, hours=1))
    with tls_server(cert=cert) as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    (finding,) = result.findings
    assert finding.key.startswith("cert-expiring:") and finding.severity == Severity.medium
    assert "10 days" in finding.title


def test_wrong_host(ca, tls_server, make_context, scan_config) -> None:
    with tls_server(cert=ca.issue_cert("other.example.org")) as server:
        result = TlsCollector().collect(make_context(scan_config(server, server_name="portal.example.org")))
    assert keys(result) == {"hostname-mismatch": Severity.high}
    assert result.normalised["endpoints"][0]["chain_valid"] is True


def test_wildcard_matches_one_label_only(ca, tls_server, make_context, scan_config) -> None:
    with tls_server(cert=ca.issue_cert("*.example.org")) as server:
        ok = TlsCollector().collect(make_context(scan_config(server, server_name="www.example.org")))
        deeper = TlsCollector().collect(make_context(scan_config(server, server_name="a.b.example.org")))
    assert "hostname-mismatch" not in keys(ok)
    assert "hostname-mismatch" in keys(deeper)


def test_self_signed(tls_server, make_context, scan_config) -> None:
    other = trustme.CA(organization_name="Someone Else")
    with tls_server(cert=other.issue_cert("localhost")) as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    assert keys(result) == {"chain-invalid": Severity.high}
    assert "unable to get local issuer certificate" in result.normalised["endpoints"][0]["chain_error"]


def test_tls_1_0_only(tls_server, make_context, scan_config) -> None:
    with tls_server(versions=("TLSv1", "TLSv1")) as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    protocols = result.normalised["endpoints"][0]["protocols"]
    if protocols["TLSv1.0"] == "untestable":
        pytest.skip("the local OpenSSL refuses TLS 1.0 even at security level 0")
    assert protocols["TLSv1.0"] == "accepted" and protocols["TLSv1.2"] == "refused"
    assert {f.key for f in result.findings} >= {f"old-protocol:localhost:{server.port}@127.0.0.1:TLSv1.0"}


def test_weak_cipher_suites(ca, tls_server, make_context, scan_config) -> None:
    # static RSA key exchange (no forward secrecy) and NULL encryption, TLS 1.2 only; both
    # need an RSA certificate
    cert = ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    with tls_server(cert=cert, versions=("TLSv1_2", "TLSv1_2"), ciphers="AES128-SHA:NULL-SHA256") as server:
        result = TlsCollector().collect(make_context(scan_config(server)))
    weak = {f.key.rsplit(":", 1)[1]: f.severity for f in result.findings if f.key.startswith("weak-cipher:")}
    assert weak == {"NULL": Severity.high, "no-forward-secrecy": Severity.medium}
    families = result.normalised["endpoints"][0]["weak_ciphers"]
    assert families["RC4"] in ("refused", "untestable") and families["anonymous"] == "refused"


def test_missing_and_short_hsts(tls_server, make_context, scan_config) -> None:
    with tls_server(hsts=None) as server:
        assert keys(TlsCollector().collect(make_context(scan_config(server)))) == {"no-hsts": Severity.medium}
    with tls_server(hsts="max-age=3600") as server:
        assert keys(TlsCollector().collect(make_context(scan_config(server)))) == {"hsts-short": Severity.low}


def test_unreachable_endpoint_is_a_finding_not_a_failed_run(tls_server, make_context, scan_config) -> None:
    with tls_server() as server:
        config = scan_config(server)
        config["targets"].append({"host": "127.0.0.1", "port": 1, "server_name": "closed.example"})
        result = TlsCollector().collect(make_context(config))
    assert keys(result) == {"unreachable": Severity.high}
    assert [e["reachable"] for e in result.normalised["endpoints"]] == [True, False]


def test_runs_as_the_portal_runs_it(tls_server, scan_config) -> None:
    with tls_server() as server:
        outcome = execute(
            TlsCollector(),
            TlsConfig.model_validate(scan_config(server)),
            instance_name="tls-web",
            now=NOW,
            timeout_seconds=120,
        )
    assert outcome.ok, outcome.error
    raw = outcome.result.artifacts[0].data
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as archive:
        (member,) = archive.getmembers()
        observed = json.loads(archive.extractfile(member).read())
    assert observed["chain_pem"][0].startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"targets": []}, "at least 1"),
        ({"targets": [{"host": "a b"}]}, "String should match pattern"),
        ({"targets": [{"host": "x.example", "port": 70000}]}, "less than or equal"),
        ({"targets": [{"host": "x.example", "command": "openssl s_client"}]}, "Extra inputs"),
        ({"targets": [{"host": "x.example"}, {"host": "x.example"}]}, "listed twice"),
    ],
)
def test_config_is_validated(config, message) -> None:
    with pytest.raises(ValidationError, match=message):
        TlsConfig.model_validate(config)


def test_key_size_below_the_organisations_minimum(tls_server, make_context, scan_config) -> None:
    # trustme's leaf keys are EC P-256; an organisation demanding 384-bit EC keys gets a finding
    with tls_server() as server:
        result = TlsCollector().collect(make_context(scan_config(server, min_ec_bits=384)))
    (finding,) = result.findings
    assert finding.key.startswith("weak-key:") and "256 bits" in finding.title


@pytest.mark.parametrize(
    ("name", "names", "matches"),
    [
        ("www.example.org", ["DNS:www.example.org"], True),
        ("WWW.Example.org.", ["DNS:www.example.org"], True),
        ("www.example.org", ["DNS:*.example.org"], True),
        ("example.org", ["DNS:*.example.org"], False),
        ("a.b.example.org", ["DNS:*.example.org"], False),
        ("127.0.0.1", ["DNS:127.0.0.1"], False),
        ("127.0.0.1", ["IP:127.0.0.1"], True),
        ("www.example.org", [], False),
    ],
)
def test_hostname_matching(name, names, matches) -> None:
    from collectors.tls.analysis import hostname_matches

    assert hostname_matches(name, names) is matches


class TestRecordedScans:
    RECORDED = __import__("pathlib").Path(__file__).resolve().parent.parent / "recordings" / "tls"

    def config(self, name: str, **target) -> TlsConfig:
        return TlsConfig.model_validate(
            {"targets": [{"host": "www.example.nl", "recorded": str(self.RECORDED / name), **target}]}
        )

    def test_replayed_scans_are_judged_again(self, make_context) -> None:
        at = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # the recordings' day: the certificate has 181 days left
        legacy = TlsCollector().collect(make_context(self.config("www-example-nl.legacy.json").model_dump(), now=at))
        assert {f.key for f in legacy.findings} == {
            "old-protocol:www.example.nl:443:TLSv1.0",
            "old-protocol:www.example.nl:443:TLSv1.1",
            "no-hsts:www.example.nl:443",
        }
        clean = TlsCollector().collect(
            make_context(self.config("www-example-nl.json").model_dump(), previous=legacy.normalised, now=at)
        )
        assert clean.findings == []
        assert clean.normalised["changes"]["resolved"] == sorted(f.key for f in legacy.findings)

    def test_recording_of_another_endpoint_is_refused(self, make_context) -> None:
        from collectors.base import CollectorError

        with pytest.raises(CollectorError, match="records www.example.nl:443, configured mail.example.nl:443"):
            TlsCollector().collect(
                make_context(
                    {"targets": [{"host": "mail.example.nl", "recorded": str(self.RECORDED / "www-example-nl.json")}]}
                )
            )

    def test_truncated_recording(self, make_context, tmp_path) -> None:
        from collectors.base import CollectorError

        cut = tmp_path / "scan.json"
        cut.write_text((self.RECORDED / "www-example-nl.json").read_text()[:500])
        with pytest.raises(CollectorError, match="not a recorded TLS scan .*truncated"):
            TlsCollector().collect(make_context({"targets": [{"host": "www.example.nl", "recorded": str(cut)}]}))
