"""The firewall-rule review collector: reads firewalls, reports risky rules and changes."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from collectors.base import (
    Artifact,
    CollectContext,
    CollectorError,
    CollectResult,
    FindingDraft,
    Severity,
)
from collectors.firewall.analysis import find_all
from collectors.firewall.aws import parse_security_groups
from collectors.firewall.config import FirewallConfig, IptablesSource, NftablesSource
from collectors.firewall.diff import RuleDiff, diff_runs
from collectors.firewall.iptables import parse_iptables_save
from collectors.firewall.model import Chain, FirewallParseError, ParsedInput, Rule, Ruleset
from collectors.firewall.nftables import parse_nft_json
from collectors.firewall.report import render_report
from collectors.firewall.sources import RawInput, collect_source

SCHEMA_VERSION = 1


def parse_raw(raw: RawInput) -> ParsedInput:
    """Parse one collected input; any problem becomes a CollectorError naming where it came from."""
    try:
        text = raw.data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CollectorError(
            f"{raw.origin}: not UTF-8 text (byte {error.start}); is this really {raw.kind} output?"
        ) from None
    try:
        ruleset = _parse_text(raw, text)
    except FirewallParseError as error:
        raise CollectorError(f"{raw.origin}: not valid {_tool_output(raw)}: {error}") from None
    return ParsedInput(label=raw.label, kind=raw.kind, origin=raw.origin, ruleset=ruleset)


def _parse_text(raw: RawInput, text: str) -> Ruleset:
    if raw.kind == "iptables":
        return parse_iptables_save(text, "ipv6" if raw.family == "ipv6" else "ipv4", raw.label)
    if raw.kind == "nftables":
        return parse_nft_json(text, raw.label)
    return parse_security_groups(text, raw.label)


def _tool_output(raw: RawInput) -> str:
    return {
        "iptables": "ip6tables-save output" if raw.family == "ipv6" else "iptables-save output",
        "nftables": "'nft -j list ruleset' output",
    }.get(raw.kind, "DescribeSecurityGroups JSON")


def raw_archive(inputs: Sequence[RawInput], now: datetime) -> bytes:
    """A tar.gz holding every input byte for byte; fixed timestamps and owners make the same
    inputs at the same time give the same archive."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(now.timestamp())) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for raw in inputs:
            info = tarfile.TarInfo(raw.filename)
            info.size = len(raw.data)
            info.mtime = int(now.timestamp())
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(raw.data))
    return buffer.getvalue()


def previous_state(
    previous: Mapping[str, Any] | None,
) -> tuple[list[Rule], list[Chain], str] | None:
    """The rules and chains of the previous run, or None when there is nothing comparable
    (no previous run, one written by an incompatible version, or damaged data)."""
    if not previous or previous.get("schema") != SCHEMA_VERSION:
        return None
    try:
        rules = [Rule.from_json(item) for item in previous["rules"]]
        chains = [Chain.from_json(item) for item in previous["chains"]]
    except (KeyError, TypeError, AttributeError):
        return None
    return rules, chains, str(previous.get("collected_at", "unknown"))


def _input_summary(raw: RawInput, parsed: ParsedInput) -> dict[str, Any]:
    return {
        "label": raw.label,
        "kind": raw.kind,
        "origin": raw.origin,
        "archive_member": raw.filename,
        "sha256": hashlib.sha256(raw.data).hexdigest(),
        "chains": len(parsed.ruleset.chains),
        "rules": len(parsed.ruleset.rules),
    }


class FirewallCollector:
    """Firewall-rule review over iptables/ip6tables, nftables and AWS security groups."""

    name: ClassVar[str] = "firewall"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[FirewallConfig]] = FirewallConfig
    default_schedule: ClassVar[str] = "0 6 * * 1"
    requirements: ClassVar[tuple[str, ...]] = (
        "ACC-1/firewall",
        "COM-1/firewall-review",
        "COM-2/firewall",
    )
    commands: ClassVar[dict[str, tuple[str, ...]]] = {
        "iptables": ("iptables-save", "ip6tables-save (unless ipv6: false)"),
        "nftables": ("nft -j list ruleset",),
        "aws": ("EC2 DescribeSecurityGroups in each region",),
    }

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: FirewallConfig = ctx.config
        sourced = [(source, raw) for source in config.sources for raw in collect_source(source)]
        raw_inputs = [raw for _, raw in sourced]
        parsed = [
            replace(parse_raw(raw), internal=source.internal_side())
            if isinstance(source, IptablesSource | NftablesSource)
            else parse_raw(raw)
            for source, raw in sourced
        ]
        for item in parsed:
            ctx.log.info(
                "%s: %d rules in %d chains from %s",
                item.label,
                len(item.ruleset.rules),
                len(item.ruleset.chains),
                item.origin,
            )
        rules = [rule for item in parsed for rule in item.ruleset.rules]
        chains = [chain for item in parsed for chain in item.ruleset.chains]
        findings = find_all(parsed)

        before = previous_state(ctx.previous)
        if ctx.previous and before is None:
            ctx.log.warning("the previous run's normalised data is not comparable; this run is a new baseline")
        diff = diff_runs(before[0], before[1], rules, chains) if before else None
        previous_at = before[2] if before else None

        collected_at = ctx.now.isoformat()
        summaries = [_input_summary(raw, item) for raw, item in zip(raw_inputs, parsed, strict=True)]
        normalised = self._normalised(ctx, collected_at, summaries, chains, rules, findings, diff, previous_at)
        report = render_report(
            instance=ctx.instance_name,
            collected_at=collected_at,
            version=self.version,
            requirements=self.requirements,
            inputs=summaries,
            chains=chains,
            rules=rules,
            findings=findings,
            diff=diff,
            previous_collected_at=previous_at,
        )
        stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
        artifacts = [
            Artifact(
                f"firewall-raw-{stamp}.tar.gz",
                "raw",
                "application/gzip",
                data=raw_archive(raw_inputs, ctx.now),
            ),
            Artifact(
                f"firewall-normalised-{stamp}.json",
                "normalised",
                "application/json",
                data=json.dumps(normalised, indent=2, sort_keys=True).encode(),
            ),
            Artifact(f"firewall-report-{stamp}.html", "report", "text/html", data=report.encode()),
        ]
        return CollectResult(normalised=normalised, artifacts=artifacts, findings=findings)

    def _normalised(
        self,
        ctx: CollectContext,
        collected_at: str,
        inputs: list[dict[str, Any]],
        chains: list[Chain],
        rules: list[Rule],
        findings: list[FindingDraft],
        diff: RuleDiff | None,
        previous_at: str | None,
    ) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "collector": self.name,
            "collector_version": self.version,
            "instance": ctx.instance_name,
            "collected_at": collected_at,
            "requirements": list(self.requirements),
            # COM-1 is a periodic human review: the portal holds the requirement at
            # "awaiting sign-off" until someone with the it role signs this run off.
            "needs_signoff": True,
            "inputs": inputs,
            "chains": [chain.to_json() for chain in chains],
            "rules": [rule.to_json() for rule in rules],
            "findings": [
                {"key": f.key, "severity": f.severity.value, "title": f.title, "subject": f.subject} for f in findings
            ],
            "summary": {
                "rules": len(rules),
                "findings": {severity.value: sum(f.severity == severity for f in findings) for severity in Severity},
            },
            "changes": {"compared_with": previous_at, **(diff.to_json() if diff else {})},
        }
