"""Demo step, part 3: disk encryption, anti-malware, availability and advisories instances with
a year of weekly runs, each a real run of the real collector over a recording moved to the
run's day (see ``collection/demo.py``, which calls this module).

The year's story:
- disk encryption: the fleet comes from the MDM export; laptop LT-0163 was handed out
  unencrypted in late spring and fixed three weeks later; desktop DT-0021 at reception stops
  checking in during the last two months (a no-report finding that is still open);
- anti-malware: ClamAV on the three Linux hosts and Defender on a workstation; in the autumn
  clamd on db1 was down for two weeks after an upgrade (protection off);
- availability: Prometheus with the blackbox exporter watches the website, the customer portal
  and the API; the portal's 14-hour outage in the recording falls in one winter month, other
  months are the same series without it;
- advisories: the NCSC's CSAF advisories of each week matched against the servers' packages and
  the edge firewall's FortiOS; IT records a decision per affected advisory and signs off each
  weekly review (the latest one still awaits its sign-off).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from audit_portal.collection import advisories, review, service, views
from audit_portal.collection.demo_dates import shift_dates
from audit_portal.principals import Actor

HOSTS = ("web1", "web2", "db1")
DAY_SECONDS = 86400
_SIGTOOL_BUILT = re.compile(r"Build time: .*")
_CLAM_DATE = re.compile(r"(Start|End) Date: +\d{4}:\d\d:\d\d \d\d:\d\d:\d\d")
_MS_DATE = re.compile(r"\\/Date\((\d+)\)\\/")


def instance_specs(inputs: Any) -> list[service.InstanceSpec]:
    p = inputs.path
    return [
        service.InstanceSpec(
            name="disk-encryption-fleet",
            collector="disk-encryption",
            schedule="0 7 * * 1",
            config={
                "inventory": ["LT-0142", "LT-0157", "LT-0163", "DT-0021", "laptop-7"],
                "sources": [
                    {"type": "intune-csv", "name": "intune", "path": str(p("disk/intune-devices.csv"))},
                    {
                        "type": "linux",
                        "device": "laptop-7",
                        "path": str(p("disk/laptop-7.lsblk.json")),
                        "cryptsetup_status": {"nvme0n1p3_crypt": str(p("disk/laptop-7.cryptsetup.txt"))},
                    },
                ],
            },
        ),
        service.InstanceSpec(
            name="anti-malware-servers",
            collector="anti-malware",
            schedule="15 6 * * 1",
            config={
                "sources": [
                    *(
                        {
                            "type": "clamav",
                            "host": host,
                            "version_path": str(p(f"clamav/{host}/version.txt")),
                            "sigtool_info_path": str(p(f"clamav/{host}/sigtool.txt")),
                            "daemon_ping_path": str(p(f"clamav/{host}/ping.txt")),
                            "scan_logs": [str(p(f"clamav/{host}/scan.log"))],
                        }
                        for host in HOSTS
                    ),
                    {"type": "defender", "host": "WS-09", "path": str(p("defender/WS-09.json"))},
                ]
            },
        ),
        service.InstanceSpec(
            name="availability-prometheus",
            collector="availability",
            schedule="0 8 * * 1",
            config={
                "target_percent": 99.5,
                "period_days": 30,
                "max_silence_minutes": 15,
                "sources": [
                    {
                        "type": "prometheus",
                        "url": "http://prometheus.example-hosting.nl:9090",
                        "recorded": str(p("prometheus/exchange.json")),
                        "services": [
                            {
                                "name": "website",
                                "labels": {"job": "blackbox", "instance": "https://www.example-hosting.nl/"},
                            },
                            {
                                "name": "customer-portal",
                                "labels": {"job": "blackbox", "instance": "https://portal.example-hosting.nl/"},
                            },
                            {
                                "name": "api",
                                "labels": {"job": "blackbox", "instance": "https://api.example-hosting.nl/health"},
                            },
                        ],
                    }
                ],
            },
        ),
        service.InstanceSpec(
            name="advisories-ncsc",
            collector="advisories",
            schedule="0 9 * * 1",
            config={
                "sources": [{"type": "csaf-folder", "path": str(p("csaf"))}],
                "inventory": [
                    *({"host": host, "dpkg_query_path": str(p("csaf-inventory/dpkg-query.txt"))} for host in HOSTS),
                    {"host": "edge-fw", "cpes": ["cpe:2.3:o:fortinet:fortios:7.4.3:*:*:*:*:*:*:*"]},
                ],
                "period_days": 7,
                "lookback_days": 30,
                "max_open_days": 3,
            },
        ),
    ]


def _window(today: date, month: int, day: int, length: int) -> tuple[date, date]:
    start = date(today.year, month, day)
    if start + timedelta(days=length) > today:
        start = start.replace(year=start.year - 1)
    return start, start + timedelta(days=length)


def _in(today: date, day: date, month: int, first: int, length: int) -> bool:
    start, end = _window(today, month, first, length)
    return start <= day < end


def _stamp(path: Any, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def prepare_disk(inputs: Any, scenario: Any, day: date, shift: int) -> None:
    export = inputs.recordings / "disk-encryption" / "intune-devices.csv"
    text = export.read_text(encoding="utf-8")
    if not _in(scenario.today, day, 5, 18, 21):  # LT-0163 was encrypted after three weeks
        text = text.replace("Noncompliant,False", "Compliant,True")
    if scenario.days_ago(day) > 60:  # DT-0021 checked in regularly until two months ago
        text = text.replace("2026-09-02 11:47:13", "2026-11-27 11:47:13")
    inputs.write_text("disk/intune-devices.csv", _shift(text, shift))
    laptop = json.loads((inputs.recordings / "disk-encryption" / "lsblk-laptop.json").read_text(encoding="utf-8"))
    laptop["blockdevices"] = [device for device in laptop["blockdevices"] if device["name"] != "sda"]
    inputs.write_text("disk/laptop-7.lsblk.json", json.dumps(laptop, indent=3))
    inputs.write("disk/laptop-7.cryptsetup.txt", "disk-encryption/cryptsetup-status-laptop.txt", 0)
    # the laptop dropped its report an hour before the run
    _stamp(
        inputs.path("disk/laptop-7.lsblk.json"), datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=11)
    )


def prepare_anti_malware(inputs: Any, scenario: Any, day: date, shift: int) -> None:
    clam = inputs.recordings / "clamav"
    built = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=5, minutes=48)  # 06:12 the day before
    scanned = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=2, minutes=30)
    for host in HOSTS:
        inputs.write_text(f"clamav/{host}/version.txt", f"ClamAV 1.4.6/{27470 + shift}/{built:%a %b %d %H:%M:%S %Y}\n")
        inputs.write_text(
            f"clamav/{host}/sigtool.txt",
            _SIGTOOL_BUILT.sub(
                f"Build time: {built:%d %b %Y %H:%M} +0000", (clam / "sigtool-info-daily.stdout").read_text()
            ),
        )
        down = host == "db1" and _in(scenario.today, day, 10, 5, 14)
        inputs.write(f"clamav/{host}/ping.txt", "clamav/ping-down.stdout" if down else "clamav/ping-up.stdout", 0)
        inputs.write_text(
            f"clamav/{host}/scan.log",
            _CLAM_DATE.sub(
                lambda m: f"{m[1]} Date: {'' if m[1] == 'Start' else '  '}{scanned:%Y:%m:%d %H:%M:%S}",
                (clam / "scan-clean.log").read_text(),
            ),
        )
    defender = (inputs.recordings / "defender" / "get-mpcomputerstatus.json").read_text(encoding="utf-8")
    moved = _MS_DATE.sub(lambda m: f"\\/Date({int(m[1]) + shift * DAY_SECONDS * 1000})\\/", defender)
    inputs.write_text("defender/WS-09.json", moved)


def prepare_availability(inputs: Any, scenario: Any, day: date, shift: int) -> None:
    exchange = json.loads((inputs.recordings / "prometheus" / "exchange-30d.json").read_text(encoding="utf-8"))
    outage_month = _in(scenario.today, day, 1, 20, 30)
    for expression, answer in exchange["queries"].items():
        for item in answer["data"]["result"]:
            if "value" in item:
                item["value"][0] += shift * DAY_SECONDS
            for point in item.get("values") or ():
                point[0] += shift * DAY_SECONDS
        if not outage_month and expression.startswith("avg_over_time(") and "portal.example" in expression:
            answer["data"]["result"][0]["value"][1] = "0.9997"  # the same month without the outage
    if not outage_month:
        # the API's probes did not fall silent that week: its last quarter-hour as the website's
        website = next(a for e, a in exchange["queries"].items() if e.startswith("probe_success{") and "www." in e)
        api = next(e for e in exchange["queries"] if e.startswith("probe_success{") and "api." in e)
        samples = json.loads(json.dumps(website["data"]["result"]))
        for item in samples:
            item["metric"]["instance"] = "https://api.example-hosting.nl/health"
        exchange["queries"][api]["data"]["result"] = samples
    exchange["evaluated_at"] += shift * DAY_SECONDS
    inputs.write_text("prometheus/exchange.json", json.dumps(exchange))


def prepare_advisories(inputs: Any, scenario: Any, day: date, shift: int) -> None:
    folder = inputs.recordings / "csaf" / "provider" / ".well-known" / "csaf" / "white" / "2026"
    for document in sorted(folder.glob("*.json")):
        inputs.write(f"csaf/{document.name}", f"csaf/provider/.well-known/csaf/white/2026/{document.name}", shift)
    inputs.write("csaf-inventory/dpkg-query.txt", "csaf/dpkg-query-deb1.txt", 0)


def _shift(text: str, days: int) -> str:
    return shift_dates(text, days)


# Decisions IT records after reading each week's advisories (by tracking id).
DECISIONS = {
    "NCSC-2026-0398": (
        "mitigated",
        "SSL-VPN switched off on the edge firewall until the FortiOS upgrade in the "
        "next maintenance window; remote access goes through WireGuard.",
    ),
    "NCSC-2026-0412": (
        "mitigated",
        "Denial of service only; the TLS endpoints sit behind the load balancer's "
        "rate limits. openssl upgrade scheduled with the monthly patch round.",
    ),
    "NCSC-2026-0427": (
        "not_applicable",
        "The OpenSSH client is only used towards our own servers, never towards untrusted hosts.",
    ),
}
REVIEW_REMARK = (
    "Weekly advisory review: every advisory of the week read; the affected ones have a decision "
    "(see the decisions on the run page)."
)


def after_run(
    context: Any,
    session: Any,
    name: str,
    report: Any,
    day: date,
    last_day: date,
    signer: Any,
    moment: datetime,
    counts: dict[str, int],
) -> None:
    """IT's part after an advisories run: decisions for what it found, and the sign-off."""
    from audit_portal.collection.models import RUN_OK
    from audit_portal.principals import Principal

    if name != "advisories-ncsc" or signer is None or report.status != RUN_OK:
        return
    principal = Principal(role=signer.role, username=signer.username, user_id=signer.id)
    detail = views.run_detail(session, report.run_id)
    decided = {item["advisory"] for item in advisories.decisions_of(detail.instance)}
    for advisory in advisories.open_advisories(detail):
        if advisory in DECISIONS and advisory not in decided:
            status, note = DECISIONS[advisory]
            advisories.record_decision(
                session,
                report.run_id,
                advisory=advisory,
                status=status,
                note=note,
                actor=Actor(principal),
                settings=context.settings,
                decided_at=moment + timedelta(hours=2),
            )
    if day + timedelta(days=7) <= last_day:  # the latest review still awaits its sign-off
        review.sign_off_run(
            session,
            report.run_id,
            actor=Actor(principal),
            remark=REVIEW_REMARK,
            signed_at=moment + timedelta(hours=3),
            store=context.store,
        )
        counts["signed"] += 1
