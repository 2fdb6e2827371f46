"""A real Prometheus and blackbox exporter (Debian's packages) on 127.0.0.1, probing two local
test web servers: ``shop`` answers 200, ``api`` answers 503. Prometheus scrapes every second
and loads one alerting rule that watches the shop only. Waits are bounded."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

WAIT_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"ok\n" if self.status == 200 else b"unavailable\n"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(status: int) -> ThreadingHTTPServer:
    handler = type(f"Handler{status}", (_Handler,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Stack:
    prometheus: str
    shop: str
    api: str


@pytest.fixture(scope="module")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for program in ("prometheus", "prometheus-blackbox-exporter"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (apt-get install prometheus prometheus-blackbox-exporter)")
    root: Path = tmp_path_factory.mktemp("prometheus")
    shop, api = serve(200), serve(503)
    shop_url = f"http://127.0.0.1:{shop.server_address[1]}/"
    api_url = f"http://127.0.0.1:{api.server_address[1]}/health"
    blackbox_port, prometheus_port = free_port(), free_port()
    (root / "blackbox.yml").write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n"
    )
    (root / "rules.yml").write_text(
        "groups:\n- name: availability\n  rules:\n"
        "  - alert: ShopDown\n"
        f'    expr: probe_success{{job="blackbox",instance="{shop_url}"}} == 0\n'
        "    for: 2m\n    labels: {severity: page}\n"
        '  - alert: NodeExporterDown\n    expr: up{job="node"} == 0\n'
    )
    (root / "prometheus.yml").write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [{root / "rules.yml"}]
scrape_configs:
- job_name: blackbox
  metrics_path: /probe
  params: {{module: [http_2xx]}}
  static_configs:
  - targets: ['{shop_url}', '{api_url}']
  relabel_configs:
  - source_labels: [__address__]
    target_label: __param_target
  - source_labels: [__param_target]
    target_label: instance
  - target_label: __address__
    replacement: 127.0.0.1:{blackbox_port}
""")
    logs = (root / "blackbox.log").open("wb"), (root / "prometheus.log").open("wb")
    blackbox = subprocess.Popen(
        [
            "prometheus-blackbox-exporter",
            f"--config.file={root / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{blackbox_port}",
        ],
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--web.enable-lifecycle",
        ],
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{prometheus_port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            # ready when both targets have at least three probe samples
            try:
                answer = httpx.get(
                    f"{url}/api/v1/query", params={"query": "count_over_time(probe_success[5m])"}, timeout=5
                ).json()
                counts = [int(item["value"][1]) for item in answer["data"]["result"]]
                if len(counts) == 2 and min(counts) >= 3:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline or prometheus.poll() is not None or blackbox.poll() is not None:
                raise RuntimeError(
                    "Prometheus did not collect probe samples in time:\n"
                    + (root / "prometheus.log").read_text()[-2000:]
                )
            time.sleep(0.5)
        yield Stack(url, shop_url, api_url)
    finally:
        for process in (prometheus, blackbox):
            process.terminate()
        for process in (prometheus, blackbox):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()
        shop.shutdown()
        api.shutdown()
