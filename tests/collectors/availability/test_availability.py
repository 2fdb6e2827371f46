"""The availability collector on a recorded Prometheus exchange and with its own HTTP probes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors.availability import AvailabilityCollector
from collectors.availability.prometheus import rule_covers, selector
from collectors.base import Collector, CollectorError, Severity
from tests.collectors.availability.conftest import serve
from tests.collectors.part3 import RECORDINGS, context

EXCHANGE = RECORDINGS / "prometheus" / "exchange-30d.json"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def recorded_config(**overrides: object) -> dict:
    from tests.collectors.recordings.prometheus.record import CONFIG

    config = {**CONFIG, **overrides}
    config["sources"] = [{**CONFIG["sources"][0], "recorded": str(EXCHANGE)}]
    return config


def test_protocol() -> None:
    assert isinstance(AvailabilityCollector(), Collector)


def test_recorded_month(tmp_path: Path) -> None:
    collector = AvailabilityCollector()
    result = collector.collect(context(collector, recorded_config(), tmp_path, now=NOW))
    services = result.normalised["services"]
    assert services["website"]["availability_percent"] == pytest.approx(99.9074)
    assert services["customer-portal"]["availability_percent"] == pytest.approx(98.0556)
    assert {f.key: f.severity for f in result.findings} == {
        "availability-below-target:customer-portal": Severity.high,
        "probe-silent:api": Severity.medium,
        "no-probe:mail": Severity.high,
        "no-alert-rule:mail": Severity.high,
    }
    assert "98.06" in result.artifacts[2].data.decode()  # type: ignore[union-attr]


def test_recording_without_the_query_fails(tmp_path: Path) -> None:
    collector = AvailabilityCollector()
    with pytest.raises(CollectorError, match="no answer"):
        collector.collect(context(collector, recorded_config(period_days=7), tmp_path, now=NOW))


@pytest.mark.parametrize(
    ("expression", "covered"),
    [
        ('probe_success{job="blackbox"} == 0', True),
        ("probe_success == 0", True),
        ('avg_over_time(probe_success{instance=~"https://www\\\\..*"}[5m]) < 0.9', True),
        ('probe_success{instance="https://other/"} == 0', False),
        ('probe_success{job!="blackbox"} == 0', False),
        ('probe_success_total{job="blackbox"} == 0', False),
        ('up{job="blackbox"} == 0', False),
    ],
)
def test_rule_coverage(expression: str, covered: bool) -> None:
    labels = {"job": "blackbox", "instance": "https://www.example-hosting.nl/"}
    assert rule_covers(expression, "probe_success", labels) is covered


def test_selector_escapes_label_values() -> None:
    assert selector("up", {"job": 'a"b\\c'}) == 'up{job="a\\"b\\\\c"}'


def test_own_http_probes_keep_history(tmp_path: Path) -> None:
    up, down = serve(200), serve(503)
    try:
        config = {
            "target_percent": 90,
            "max_silence_minutes": 60,
            "sources": [
                {
                    "type": "http",
                    "probes": [
                        {"name": "shop", "url": f"http://127.0.0.1:{up.server_address[1]}/"},
                        {"name": "api", "url": f"http://127.0.0.1:{down.server_address[1]}/"},
                    ],
                }
            ],
        }
        collector = AvailabilityCollector()
        first = collector.collect(context(collector, config, tmp_path / "a", now=NOW))
        second = collector.collect(
            context(collector, config, tmp_path / "b", now=NOW + timedelta(minutes=30), previous=first.normalised)
        )
        third = collector.collect(
            context(collector, config, tmp_path / "c", now=NOW + timedelta(hours=3), previous=second.normalised)
        )
    finally:
        up.shutdown()
        down.shutdown()
    shop, api = third.normalised["services"]["shop"], third.normalised["services"]["api"]
    assert (shop["samples"], shop["availability_percent"]) == (3, 100.0)
    assert api["availability_percent"] == 0.0 and "status 503" in api["probe_errors"][0]
    assert {f.key for f in second.findings} == {"availability-below-target:api"}
    assert {f.key for f in third.findings} == {"availability-below-target:api", "probe-silent:shop", "probe-silent:api"}


@pytest.mark.parametrize(
    "config",
    [
        {"sources": []},
        {
            "sources": [
                {"type": "prometheus", "url": "file:///etc/passwd", "services": [{"name": "a", "labels": {"x": "y"}}]}
            ]
        },
        {"sources": [{"type": "prometheus", "url": "http://p:9090", "services": [{"name": "a", "labels": {}}]}]},
        {
            "sources": [
                {
                    "type": "prometheus",
                    "url": "http://p:9090",
                    "services": [{"name": "a", "labels": {"bad-label": "y"}}],
                }
            ]
        },
        {
            "sources": [
                {"type": "prometheus", "url": "http://p:9090", "services": [{"name": "a", "labels": {"x": "y"}}]},
                {"type": "http", "probes": [{"name": "a", "url": "https://a/"}]},
            ]
        },
        {"sources": [{"type": "http", "probes": [{"name": "a", "url": "https://a/", "command": "curl"}]}]},
    ],
)
def test_bad_config(config: dict) -> None:
    with pytest.raises(ValidationError):
        AvailabilityCollector.Config.model_validate(config)
