"""The availability collector (measure OPS-3: the application environment is in availability
monitoring). Evidence that monitoring exists and works: from Prometheus (the services' probe
series over the period, their availability, the alerting rules that watch them) or, where there
is no Prometheus, from the collector's own HTTP(S) probes, whose results it keeps per day in
its normalised output."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.availability.prometheus import (
    Exchange,
    LivePrometheus,
    RecordedPrometheus,
    rule_covers,
    selector,
)
from collectors.base import CollectContext, CollectResult, FindingDraft, Severity
from collectors.common import HttpUrlText, RawInput, artifacts, aware, diff, iso, json_ready, tabular_report
from collectors.patches.sources import read_file

ServiceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


class PrometheusService(BaseModel):
    """A listed service and the series that watch it, e.g. ``probe_success`` with
    ``{instance: https://shop.example.nl}`` (blackbox exporter) or ``up`` with ``{job: api}``."""

    model_config = ConfigDict(extra="forbid")

    name: ServiceName
    metric: Literal["probe_success", "up"] = "probe_success"
    labels: dict[LabelName, Annotated[str, Field(max_length=500)]] = Field(min_length=1)


class PrometheusSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["prometheus"]
    url: HttpUrlText
    services: list[PrometheusService] = Field(min_length=1)
    recorded: str | None = None  # a raw artifact of an earlier run, read instead of asking url
    timeout_seconds: float = Field(default=30, gt=0, le=300)


class HttpProbe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ServiceName
    url: HttpUrlText
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(default_factory=list)  # empty: 2xx/3xx
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class HttpSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["http"]
    probes: list[HttpProbe] = Field(min_length=1)


Source = Annotated[PrometheusSource | HttpSource, Field(discriminator="type")]


class AvailabilityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)
    target_percent: float = Field(default=99.5, gt=0, le=100)
    period_days: float = Field(default=30, gt=0, le=400)
    max_silence_minutes: int = Field(default=15, ge=1, le=10080)

    @model_validator(mode="after")
    def _unique_services(self) -> AvailabilityConfig:
        names = [
            service.name
            for source in self.sources
            for service in (source.services if isinstance(source, PrometheusSource) else source.probes)
        ]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"service(s) listed twice: {', '.join(duplicates)}")
        return self


def _seconds(days: float) -> str:
    return f"{max(int(days * 86400), 60)}s"


class AvailabilityCollector:
    name: ClassVar[str] = "availability"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[BaseModel]] = AvailabilityConfig
    default_schedule: ClassVar[str] = "0 8 * * *"
    requirements: ClassVar[tuple[str, ...]] = ("OPS-3/availability",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: AvailabilityConfig = ctx.config
        now = aware(ctx.now)
        raw_inputs: list[RawInput] = []
        services: dict[str, dict[str, Any]] = {}
        previous_services: Mapping[str, Any] = (ctx.previous or {}).get("services") or {}
        for index, source in enumerate(config.sources):
            if isinstance(source, PrometheusSource):
                raw, found = self._prometheus(source, config, now, ctx)
            else:
                raw, found = self._probe(source, config, now, previous_services, ctx)
            raw_inputs.append(
                RawInput(host=f"source-{index + 1}", kind=source.type, origin=raw[0], data=raw[1], from_command=True)
            )
            services.update(found)

        findings = [
            finding for name, service in sorted(services.items()) for finding in self._findings(name, service, config)
        ]
        finding_keys = sorted(finding.key for finding in findings)
        normalised = json_ready(
            {
                "collector": self.name,
                "collector_version": self.version,
                "collected_at": iso(now),
                "policy": {
                    "target_percent": config.target_percent,
                    "period_days": config.period_days,
                    "max_silence_minutes": config.max_silence_minutes,
                },
                "services": services,
                "finding_keys": finding_keys,
            }
        )
        normalised["diff"] = diff(finding_keys, ctx.previous)
        report = tabular_report(
            title="Availability monitoring report",
            instance_name=ctx.instance_name,
            requirement="OPS-3/availability",
            policy=(
                f"Every listed service probed and covered by an alert rule; availability at least "
                f"{config.target_percent}% over {config.period_days:g} days; probes never silent for "
                f"more than {config.max_silence_minutes} minutes."
            ),
            normalised=normalised,
            sections=[
                {
                    "heading": "Services",
                    "columns": [
                        "Service",
                        "Monitored by",
                        "Series / URL",
                        "Samples in period",
                        "Availability %",
                        "Last sample",
                        "Alert rules",
                    ],
                    "rows": [
                        [
                            name,
                            s["monitored_by"],
                            s["series"],
                            s["samples"],
                            None if s["availability_percent"] is None else f"{s['availability_percent']:.3f}",
                            s["last_sample_at"] or "none",
                            ", ".join(s["alert_rules"]) or "none",
                        ]
                        for name, s in sorted(services.items())
                    ],
                    "empty": "No service listed.",
                }
            ],
            findings=findings,
        )
        return CollectResult(
            normalised=normalised,
            artifacts=artifacts(ctx, "availability", raw_inputs, normalised, report),
            findings=findings,
        )

    # --- Prometheus -----------------------------------------------------------------------

    def _prometheus(
        self, source: PrometheusSource, config: AvailabilityConfig, now: datetime, ctx: CollectContext
    ) -> tuple[tuple[str, bytes], dict[str, dict[str, Any]]]:
        if source.recorded is not None:
            raw = read_file("prometheus", "prometheus", source.recorded)
            api: LivePrometheus | RecordedPrometheus = RecordedPrometheus(
                Exchange.from_json(raw.data, source.recorded), source.recorded
            )
            now = datetime.fromtimestamp(api.exchange.evaluated_at, UTC)
            origin = source.recorded
        else:
            api = LivePrometheus(str(source.url), now, source.timeout_seconds)
            origin = f"GET {api.exchange.url}/api/v1/query, /api/v1/rules"
        ctx.log.info("availability: reading %s", origin)
        try:
            rules = api.rules()
            found: dict[str, dict[str, Any]] = {}
            period, silence = _seconds(config.period_days), f"{config.max_silence_minutes * 60}s"
            for service in source.services:
                series = selector(service.metric, service.labels)
                average = api.query(f"avg_over_time({series}[{period}])")
                count = api.query(f"count_over_time({series}[{period}])")
                recent = api.query(f"{series}[{silence}]")
                counts = {_key(item): int(float(item["value"][1])) for item in count}
                samples = sum(counts.values())
                # several series (two probing exporters, say): weigh each by its samples
                ratio = (
                    (sum(float(item["value"][1]) * counts.get(_key(item), 0) for item in average) / samples)
                    if samples
                    else None
                )
                last = max((float(point[0]) for item in recent for point in item["values"]), default=None)
                found[service.name] = {
                    "monitored_by": f"prometheus {api.exchange.url}",
                    "series": series,
                    "series_found": len(count),
                    "samples": samples,
                    "availability_percent": None if ratio is None else round(ratio * 100, 4),
                    "last_sample_at": None if last is None else iso(datetime.fromtimestamp(last, UTC)),
                    "silent": last is None,
                    "alert_rules": sorted(
                        {
                            rule["name"]
                            for rule in rules
                            if rule_covers(str(rule.get("query", "")), service.metric, service.labels)
                        }
                    ),
                    "probe_errors": [],
                }
        finally:
            if isinstance(api, LivePrometheus):
                api.close()
        return (origin, api.exchange.to_json()), found

    # --- the collector's own HTTP(S) probes -------------------------------------------------

    def _probe(
        self,
        source: HttpSource,
        config: AvailabilityConfig,
        now: datetime,
        previous: Mapping[str, Any],
        ctx: CollectContext,
    ) -> tuple[tuple[str, bytes], dict[str, dict[str, Any]]]:
        lines: list[str] = []
        found: dict[str, dict[str, Any]] = {}
        first_day = (now - timedelta(days=config.period_days)).date().isoformat()
        for probe in source.probes:
            ok, line = _probe_once(probe)
            lines.append(f"{iso(now)} {probe.name} {probe.url} {line}")
            ctx.log.info("availability: probe %s: %s", probe.name, line)
            before = previous.get(probe.name) or {}
            days: dict[str, list[int]] = {
                day: list(counts) for day, counts in (before.get("days") or {}).items() if day >= first_day
            }
            today = days.setdefault(now.date().isoformat(), [0, 0])
            today[0] += int(ok)
            today[1] += 1
            successes, total = sum(c[0] for c in days.values()), sum(c[1] for c in days.values())
            last_before = before.get("last_sample_at")
            gap = None if not last_before else (now - datetime.fromisoformat(last_before)).total_seconds() / 60
            found[probe.name] = {
                "monitored_by": "collector http probe",
                "series": str(probe.url),
                "series_found": 1,
                "samples": total,
                "availability_percent": round(successes / total * 100, 4),
                "last_sample_at": iso(now),
                # the probes themselves: silent when the previous probe is too long ago
                "silent": gap is not None and gap > config.max_silence_minutes,
                "silent_minutes": None if gap is None else round(gap, 1),
                "alert_rules": ["collector findings"],
                "probe_errors": [] if ok else [line],
                "days": days,
            }
        return ("http probes", ("\n".join(lines) + "\n").encode()), found

    def _findings(self, name: str, service: Mapping[str, Any], config: AvailabilityConfig) -> list[FindingDraft]:
        findings: list[FindingDraft] = []
        if not service["samples"]:
            findings.append(
                FindingDraft(
                    key=f"no-probe:{name}",
                    title=f"{name} is not probed",
                    severity=Severity.high,
                    subject=name,
                    detail=f"No sample of {service['series']} in the last {config.period_days:g} days: the service "
                    "is not in availability monitoring (OPS-3).",
                )
            )
        if not service["alert_rules"]:
            findings.append(
                FindingDraft(
                    key=f"no-alert-rule:{name}",
                    title=f"No alert rule watches {name}",
                    severity=Severity.high,
                    subject=name,
                    detail=f"No alerting rule reads {service['series']}: an outage would go unnoticed.",
                )
            )
        percent = service["availability_percent"]
        if percent is not None and percent < config.target_percent:
            findings.append(
                FindingDraft(
                    key=f"availability-below-target:{name}",
                    title=f"{name} available {percent:.2f}% (target {config.target_percent}%)",
                    severity=Severity.high,
                    subject=name,
                    detail=f"Over {config.period_days:g} days, {service['samples']} samples of {service['series']}.",
                )
            )
        if service["samples"] and service["silent"]:
            findings.append(
                FindingDraft(
                    key=f"probe-silent:{name}",
                    title=f"Probes of {name} silent for more than {config.max_silence_minutes} minutes",
                    severity=Severity.medium,
                    subject=name,
                    detail=f"Last sample {service['last_sample_at'] or 'unknown'}; monitoring that stops "
                    "reporting cannot show an outage.",
                )
            )
        return findings


def _key(item: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((item.get("metric") or {}).items()))


def _probe_once(probe: HttpProbe) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        with httpx.Client(timeout=probe.timeout_seconds, follow_redirects=False) as client:
            response = client.get(str(probe.url), headers={"User-Agent": "audit-portal-availability/1"})
    except httpx.HTTPError as error:
        return False, f"error {type(error).__name__}: {error}"
    elapsed = time.monotonic() - started
    ok = (response.status_code in probe.expect_status) if probe.expect_status else 200 <= response.status_code < 400
    return ok, f"status {response.status_code} in {elapsed * 1000:.0f} ms"
