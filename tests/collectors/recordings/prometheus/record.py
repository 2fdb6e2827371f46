"""Records ``exchange-30d.json``: the availability collector's conversation with a real
Prometheus (Debian's 2.42) holding 30 days of blackbox-exporter samples.

A month of probing cannot be waited for, so the samples are written as OpenMetrics and
backfilled with ``promtool tsdb create-blocks-from openmetrics`` (the documented way to import
history); Prometheus then serves them exactly as it would have scraped them. Run from the
repository root:  .venv/bin/python tests/collectors/recordings/prometheus/record.py
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from collectors.availability import AvailabilityCollector  # noqa: E402
from collectors.base import CollectContext  # noqa: E402
from tests.collectors.availability.conftest import free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
EVALUATED_AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STEP = 60
SERIES = {
    # instance: (outage start, outage length, silent for the last minutes)
    "https://www.example-hosting.nl/": (datetime(2026, 11, 9, 3, 10, tzinfo=UTC), timedelta(minutes=40), 0),
    "https://portal.example-hosting.nl/": (datetime(2026, 11, 21, 18, 0, tzinfo=UTC), timedelta(hours=14), 0),
    "https://api.example-hosting.nl/health": (None, timedelta(0), 45),
}
RULES = """groups:
- name: availability
  rules:
  - alert: WebsiteDown
    expr: probe_success{job="blackbox"} == 0
    for: 5m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} does not answer"}
"""
CONFIG = {
    "target_percent": 99.5,
    "period_days": 30,
    "max_silence_minutes": 15,
    "sources": [
        {
            "type": "prometheus",
            "url": "http://127.0.0.1:9090",
            "services": [
                {"name": "website", "labels": {"job": "blackbox", "instance": "https://www.example-hosting.nl/"}},
                {
                    "name": "customer-portal",
                    "labels": {"job": "blackbox", "instance": "https://portal.example-hosting.nl/"},
                },
                {"name": "api", "labels": {"job": "blackbox", "instance": "https://api.example-hosting.nl/health"}},
                {"name": "mail", "metric": "up", "labels": {"job": "postfix-exporter"}},
            ],
        }
    ],
}


def openmetrics() -> str:
    lines = ["# TYPE probe_success gauge"]
    start = EVALUATED_AT - timedelta(days=31)
    for instance, (outage, length, silent) in SERIES.items():
        moment = start
        end = EVALUATED_AT - timedelta(minutes=silent)
        while moment <= end:
            down = outage is not None and outage <= moment < outage + length
            lines.append(
                f'probe_success{{job="blackbox",instance="{instance}"}} {0 if down else 1} {int(moment.timestamp())}'
            )
            moment += timedelta(seconds=STEP)
    return "\n".join(lines) + "\n# EOF\n"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "samples.om").write_text(openmetrics())
        subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(root / "samples.om"), str(root / "data")],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (root / "rules.yml").write_text(RULES)
        (root / "prometheus.yml").write_text(
            f"global: {{evaluation_interval: 15s}}\nrule_files: [{root / 'rules.yml'}]\n"
        )
        port = free_port()
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                "--storage.tsdb.retention.time=400d",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            config = json.loads(json.dumps(CONFIG))
            config["sources"][0]["url"] = url
            collector = AvailabilityCollector()
            work = root / "work"
            work.mkdir()
            result = collector.collect(
                CollectContext(
                    instance_name="record",
                    config=collector.Config.model_validate(config),
                    now=EVALUATED_AT,
                    workdir=work,
                    log=logging.getLogger("record"),
                )
            )
            import tarfile

            with tarfile.open(result.artifacts[0].path) as bundle:  # type: ignore[arg-type]
                [member] = bundle.getmembers()
                exchange = json.loads(bundle.extractfile(member).read())  # type: ignore[union-attr]
            exchange["url"] = "http://prometheus.example-hosting.nl:9090"  # the loopback port says nothing
            (HERE / "exchange-30d.json").write_text(json.dumps(exchange, indent=1, sort_keys=True) + "\n")
            print(json.dumps(result.normalised["services"], indent=1))
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
