"""The hardening collector (OPS-4): Lynis' audit of each server, judged against the
organisation's minimum hardening index, with the changes since the previous run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from collectors.artifacts import (
    finding_changes,
    findings_summary,
    most_severe_first,
    report_environment,
    severity_counts,
    standard_artifacts,
)
from collectors.base import CollectContext, CollectorError, CollectResult, FindingDraft, Severity
from collectors.hardening.config import HardeningConfig, HardeningHost
from collectors.hardening.lynis import LynisParseError, LynisReport, parse_lynis_report

_templates = report_environment(Path(__file__).parent)


def _read(host: HardeningHost) -> tuple[bytes, LynisReport]:
    try:
        data = host.lynis_report.read_bytes()
    except OSError as error:
        raise CollectorError(f"{host.lynis_report}: cannot read ({error.strerror or error})") from error
    try:
        return data, parse_lynis_report(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CollectorError(f"{host.lynis_report}: not UTF-8 text (byte {error.start})") from None
    except LynisParseError as error:
        raise CollectorError(f"{host.lynis_report}: not a complete Lynis report: {error}") from None


def _items(items: list[Any]) -> list[dict[str, str]]:
    return [{"test": i.test, "text": i.text, "details": i.details, "solution": i.solution} for i in items]


def _host_summary(report: LynisReport, finished_utc: datetime) -> dict[str, Any]:
    return {
        "lynis_version": report.lynis_version,
        "hostname": report.hostname,
        "os": report.os,
        "audited_at": finished_utc.isoformat(),
        "hardening_index": report.hardening_index,
        "tests_executed": len(report.tests_executed),
        "tests_skipped": len(report.tests_skipped),
        "warnings": _items(report.warnings),
        "suggestions": _items(report.suggestions),
    }


def _host_findings(name: str, summary: dict[str, Any], config: HardeningConfig, now: datetime) -> list[FindingDraft]:
    findings = []
    if summary["hardening_index"] < config.minimum_index:
        findings.append(
            FindingDraft(
                key=f"hardening-index:{name}",
                severity=Severity.high,
                subject=name,
                title=f"Hardening index {summary['hardening_index']} below {config.minimum_index} ({name})",
                detail=f"Lynis {summary['lynis_version']} ran {summary['tests_executed']} tests on {summary['audited_at']}; "
                f"the organisation's minimum index is {config.minimum_index}.",
            )
        )
    by_test: dict[str, list[dict[str, str]]] = {}
    for warning in summary["warnings"]:
        by_test.setdefault(warning["test"], []).append(warning)
    for test, warnings in sorted(by_test.items()):
        findings.append(
            FindingDraft(
                key=f"lynis-warning:{name}:{test}",
                severity=Severity.medium,
                subject=name,
                title=f"Lynis warning {test}: {warnings[0]['text']} ({name})",
                detail="\n".join(f"{w['text']} {w['details']}".strip() for w in warnings)
                + f"\nLynis control: https://cisofy.com/lynis/controls/{test}/",
            )
        )
    audited = datetime.fromisoformat(summary["audited_at"])
    if now - audited > timedelta(days=config.max_report_age_days):
        findings.append(
            FindingDraft(
                key=f"report-stale:{name}",
                severity=Severity.high,
                subject=name,
                title=f"Lynis report of {name} is from {audited.date()}",
                detail=f"The newest report is older than {config.max_report_age_days} days: Lynis no longer runs on {name}.",
            )
        )
    if summary["suggestions"]:
        findings.append(
            FindingDraft(
                key=f"lynis-suggestions:{name}",
                severity=Severity.info,
                subject=name,
                title=f"{len(summary['suggestions'])} Lynis suggestion(s) for {name}",
                detail="\n".join(f"{s['test']}: {s['text']}" for s in summary["suggestions"]),
            )
        )
    return findings


def _host_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any] | None:
    if before is None:
        return None
    old_w = {(w["test"], w["text"]) for w in before.get("warnings", [])}
    new_w = {(w["test"], w["text"]) for w in after["warnings"]}
    old_s = {(s["test"], s["text"]) for s in before.get("suggestions", [])}
    new_s = {(s["test"], s["text"]) for s in after["suggestions"]}
    return {
        "compared_with": before.get("audited_at"),
        "hardening_index": [before.get("hardening_index"), after["hardening_index"]],
        "tests_executed": [before.get("tests_executed"), after["tests_executed"]],
        "warnings_added": [f"{t}: {x}" for t, x in sorted(new_w - old_w)],
        "warnings_resolved": [f"{t}: {x}" for t, x in sorted(old_w - new_w)],
        "suggestions_added": [f"{t}: {x}" for t, x in sorted(new_s - old_s)],
        "suggestions_resolved": [f"{t}: {x}" for t, x in sorted(old_s - new_s)],
    }


class HardeningCollector:
    name: ClassVar[str] = "hardening"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[HardeningConfig]] = HardeningConfig
    default_schedule: ClassVar[str] = "0 3 * * 0"  # weekly; OPS-4's frequency is 90 days
    requirements: ClassVar[tuple[str, ...]] = ("OPS-4/hardening",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: HardeningConfig = ctx.config
        previous_hosts = (ctx.previous or {}).get("hosts") or {}
        raw: list[tuple[str, bytes]] = []
        hosts: dict[str, Any] = {}
        findings: list[FindingDraft] = []
        for host in config.hosts:
            data, report = _read(host)
            ctx.log.info(
                "%s: Lynis %s, index %d, %d warnings",
                host.name,
                report.lynis_version,
                report.hardening_index,
                len(report.warnings),
            )
            raw.append((f"{host.name}/lynis-report.dat", data))
            # Lynis writes local wall-clock times; the host's zone is not in the report, so they
            # are taken as UTC (the age check has days of slack).
            finished = report.finished.replace(tzinfo=ZoneInfo("UTC")).astimezone(UTC)
            summary = _host_summary(report, finished)
            summary["changes"] = _host_changes(previous_hosts.get(host.name), summary)
            hosts[host.name] = summary
            findings += _host_findings(host.name, summary, config, ctx.now)
        findings = most_severe_first(findings)
        normalised = {
            "collector": self.name,
            "collector_version": self.version,
            "instance": ctx.instance_name,
            "collected_at": ctx.now.isoformat(),
            "requirements": list(self.requirements),
            "minimum_index": config.minimum_index,
            "hosts": hosts,
            "findings": findings_summary(findings),
            "summary": {"hosts": len(hosts), "findings": severity_counts(findings)},
            "changes": finding_changes(ctx.previous, findings),
        }
        report_html = _templates.get_template("report.html.j2").render(
            instance=ctx.instance_name, summary=normalised, findings=findings
        )
        return CollectResult(normalised, standard_artifacts(self.name, ctx.now, raw, normalised, report_html), findings)
