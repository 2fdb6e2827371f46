"""The availability collector against a live Prometheus and blackbox exporter (conftest)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from collectors.availability import AvailabilityCollector
from collectors.base import Severity
from tests.collectors.part3 import context, raw_members


def config(stack, **overrides) -> dict:  # type: ignore[no-untyped-def]
    return {
        "target_percent": 99.0,
        "period_days": 0.01,
        "max_silence_minutes": 5,
        **overrides,
        "sources": [
            {
                "type": "prometheus",
                "url": stack.prometheus,
                "services": [
                    {"name": "shop", "labels": {"job": "blackbox", "instance": stack.shop}},
                    {"name": "api", "labels": {"job": "blackbox", "instance": stack.api}},
                    {"name": "intranet", "labels": {"instance": "https://intranet.invalid/"}},
                ],
            }
        ],
    }


def test_live_prometheus(prometheus_stack, tmp_path: Path) -> None:
    collector = AvailabilityCollector()
    result = collector.collect(context(collector, config(prometheus_stack), tmp_path, now=datetime.now(UTC)))
    services = result.normalised["services"]
    assert services["shop"]["availability_percent"] == 100.0 and services["shop"]["samples"] >= 3
    assert services["shop"]["alert_rules"] == ["ShopDown"]
    assert services["api"]["availability_percent"] == 0.0
    assert services["intranet"]["samples"] == 0
    assert {f.key: f.severity for f in result.findings} == {
        "no-alert-rule:api": Severity.high,
        "availability-below-target:api": Severity.high,
        "no-probe:intranet": Severity.high,
        "no-alert-rule:intranet": Severity.high,
    }
    # the raw artifact is the API conversation, readable back as a recording
    [member] = raw_members(result.artifacts[0].path).values()  # type: ignore[arg-type]
    exchange = json.loads(member)
    assert exchange["url"] == prometheus_stack.prometheus and exchange["rules"]["status"] == "success"
    recording = tmp_path / "exchange.json"
    recording.write_bytes(member)
    replay_config = config(prometheus_stack)
    replay_config["sources"][0]["recorded"] = str(recording)
    replayed = collector.collect(context(collector, replay_config, tmp_path / "replay", now=datetime.now(UTC)))
    assert replayed.normalised["services"] == services


def test_unreachable_prometheus_fails_the_run(tmp_path: Path) -> None:
    import pytest

    from collectors.base import CollectorError
    from tests.collectors.availability.conftest import free_port

    collector = AvailabilityCollector()
    cfg = {
        "sources": [
            {
                "type": "prometheus",
                "url": f"http://127.0.0.1:{free_port()}",
                "timeout_seconds": 5,
                "services": [{"name": "shop", "labels": {"instance": "x"}}],
            }
        ]
    }
    with pytest.raises(CollectorError, match="cannot reach Prometheus"):
        collector.collect(context(collector, cfg, tmp_path, now=datetime.now(UTC)))
