"""The TLS collector (CRY-3): certificate, protocol versions, cipher suites and HSTS of each
configured endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from collectors.artifacts import (
    finding_changes,
    findings_summary,
    most_severe_first,
    report_environment,
    severity_counts,
    standard_artifacts,
)
from collectors.base import CollectContext, CollectorError, CollectResult
from collectors.tls.analysis import Policy, assess
from collectors.tls.config import TlsConfig
from collectors.tls.probe import scan

_templates = report_environment(Path(__file__).parent)


_OBSERVED_KEYS = ("target", "host", "port", "server_name", "reachable")


def _recorded(path: Path, label: str) -> dict[str, Any]:
    try:
        observed = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CollectorError(f"{path}: cannot read ({error.strerror or error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CollectorError(f"{path}: not a recorded TLS scan (invalid JSON: {error}); truncated?") from None
    if not isinstance(observed, dict):
        raise CollectorError(f"{path}: not a recorded TLS scan: not a JSON object")
    missing = [key for key in _OBSERVED_KEYS if key not in observed]
    if observed.get("reachable") is True:
        missing += [k for k in ("chain_pem", "verification", "protocols", "weak_ciphers") if k not in observed]
    if missing:
        raise CollectorError(f"{path}: not a recorded TLS scan: no {', '.join(missing)}")
    if observed["target"] != label:
        raise CollectorError(f"{path}: records {observed['target']}, configured {label}")
    return observed


class TlsCollector:
    name: ClassVar[str] = "tls"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[TlsConfig]] = TlsConfig
    default_schedule: ClassVar[str] = "0 4 * * 1"  # weekly: CRY-3's frequency is 7 days
    requirements: ClassVar[tuple[str, ...]] = ("CRY-3/tls",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: TlsConfig = ctx.config
        if config.ca_file is not None and not config.ca_file.is_file():
            raise CollectorError(f"{config.ca_file}: CA file not found")
        policy = Policy(
            expiry_warning_days=config.expiry_warning_days,
            min_rsa_bits=config.min_rsa_bits,
            min_ec_bits=config.min_ec_bits,
            hsts_min_age_days=config.hsts_min_age_days,
        )
        raw: list[tuple[str, bytes]] = []
        endpoints: list[dict[str, Any]] = []
        findings = []
        for target in config.targets:
            ctx.log.info("scanning %s", target.label)
            observed = (
                _recorded(target.recorded, target.label)
                if target.recorded is not None
                else scan(target, config.ca_file, config.timeout_seconds)
            )
            raw.append(
                (f"{target.label.replace(':', '_')}.json", json.dumps(observed, indent=2, sort_keys=True).encode())
            )
            try:
                summary, found = assess(observed, policy, ctx.now)
            except ValueError as error:
                raise CollectorError(str(error)) from None
            endpoints.append(summary)
            findings += found
        findings = most_severe_first(findings)
        normalised = {
            "collector": self.name,
            "collector_version": self.version,
            "instance": ctx.instance_name,
            "collected_at": ctx.now.isoformat(),
            "requirements": list(self.requirements),
            "policy": config.model_dump(mode="json", exclude={"targets"}),
            "endpoints": endpoints,
            "findings": findings_summary(findings),
            "summary": {"endpoints": len(endpoints), "findings": severity_counts(findings)},
            "changes": finding_changes(ctx.previous, findings),
        }
        report = _templates.get_template("report.html.j2").render(
            instance=ctx.instance_name, summary=normalised, findings=findings, version=self.version
        )
        ctx.log.info("tls: %d endpoints, %d findings", len(endpoints), len(findings))
        return CollectResult(
            normalised=normalised,
            artifacts=standard_artifacts(self.name, ctx.now, raw, normalised, report),
            findings=findings,
        )
