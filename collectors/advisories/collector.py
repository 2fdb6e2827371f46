"""The security advisories collector (measure ORG-2: the NCSC is consulted systematically for
security advisories). Reads CSAF 2.0 advisories from a provider or a mirrored folder, records
which were published or updated in the period, matches their product trees against the hosts'
installed packages (``dpkg-query``, the inventory the patch collector's hosts keep) and CPEs,
and lists the decision taken for each affected advisory. A high or critical advisory that
affects an installed package and has no decision after ``max_open_days`` is a finding."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.advisories import sources
from collectors.advisories.csaf import (
    SEVERITY_RANK,
    Advisory,
    CsafError,
    Product,
    cpe_matches,
    in_range,
    parse_advisory,
)
from collectors.base import CollectContext, CollectorError, CollectResult, FindingDraft, Severity
from collectors.common import (
    HttpUrlText,
    RawInput,
    artifacts,
    aware,
    diff,
    iso,
    json_ready,
    read_or_run,
    tabular_report,
    text_of,
)

HostName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=253)]
DPKG_QUERY_ARGV = ("dpkg-query", "-W", "-f", "${Package}\t${Version}\n")
DECISIONS = ("not_applicable", "patched", "mitigated")


class ProviderSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["csaf-provider"]
    metadata_url: HttpUrlText  # e.g. https://advisories.ncsc.nl/.well-known/csaf/provider-metadata.json
    max_documents: int = Field(default=500, ge=1, le=5000)
    timeout_seconds: float = Field(default=30, gt=0, le=300)


class FolderSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["csaf-folder"]
    path: str


Source = Annotated[ProviderSource | FolderSource, Field(discriminator="type")]


class HostInventory(BaseModel):
    """A host's installed packages (``dpkg-query -W``: recorded, or run here) and CPEs of
    what it runs that no package names (appliances, vendor software)."""

    model_config = ConfigDict(extra="forbid")

    host: HostName
    dpkg_query_path: str | None = None
    run_dpkg_query: bool = False  # run dpkg-query here (the collector runs on this host)
    cpes: list[Annotated[str, Field(pattern=r"^cpe:2\.3:[aho]:", max_length=500)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _some_inventory(self) -> HostInventory:
        if self.dpkg_query_path is None and not self.run_dpkg_query and not self.cpes:
            raise ValueError(f"{self.host}: give dpkg_query_path, run_dpkg_query or cpes")
        if self.dpkg_query_path is not None and self.run_dpkg_query:
            raise ValueError(f"{self.host}: dpkg_query_path and run_dpkg_query exclude each other")
        return self


class Decision(BaseModel):
    """What IT decided about one advisory, recorded in the portal (it role)."""

    model_config = ConfigDict(extra="forbid")

    advisory: Annotated[str, Field(min_length=1, max_length=200)]
    status: Literal["not_applicable", "patched", "mitigated"]
    by: Annotated[str, Field(min_length=1, max_length=200)]
    at: datetime
    note: Annotated[str, Field(max_length=2000)] = ""


class AdvisoriesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)
    inventory: list[HostInventory] = Field(min_length=1)
    period_days: int = Field(default=7, ge=1, le=365)  # advisories "seen in the period"
    lookback_days: int = Field(default=90, ge=1, le=730)  # advisories still matched for open findings
    max_open_days: int = Field(default=7, ge=0, le=365)
    min_severity: Literal["medium", "high", "critical"] = "high"
    decisions: list[Decision] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AdvisoriesConfig:
        if self.lookback_days < self.period_days:
            raise ValueError("lookback_days must be at least period_days")
        hosts = [item.host for item in self.inventory]
        if len(set(hosts)) != len(hosts):
            raise ValueError("a host is listed twice in the inventory")
        return self


def parse_dpkg_query(text: str, origin: str) -> dict[str, str]:
    installed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, version = line.partition("\t")
        if not sep or not name or not version.strip():
            if sep and not version.strip():
                continue  # a package known to dpkg but not installed (config-files state)
            raise CollectorError(f"{origin} line {number}: expected 'package<TAB>version'")
        installed[name.split(":")[0].strip().lower()] = version.strip()
    return installed


def _product_hits(product: Product, installed: Mapping[str, str], cpes: list[str]) -> list[str]:
    """Why this product is on the host ("openssl 3.0.11-1~deb12u2"), empty when it is not."""
    if product.cpe and any(cpe_matches(host_cpe, product.cpe) for host_cpe in cpes):
        return [product.cpe]
    version = installed.get(product.name) if product.name else None
    if version is None:
        return []
    if product.version_range:
        inside = in_range(version, product.version_range)
        if inside is None:
            return [f"{product.name} {version} (range {product.version_range!r} not readable: judge by hand)"]
        return [f"{product.name} {version}"] if inside else []
    if product.version:
        return [f"{product.name} {version}"] if product.version == version else []
    return [f"{product.name} {version} (all versions)"]


class AdvisoriesCollector:
    name: ClassVar[str] = "advisories"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[BaseModel]] = AdvisoriesConfig
    default_schedule: ClassVar[str] = "0 9 * * *"
    requirements: ClassVar[tuple[str, ...]] = ("ORG-2/advisories",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: AdvisoriesConfig = ctx.config
        now = aware(ctx.now)
        lookback = now - timedelta(days=config.lookback_days)
        period_start = now - timedelta(days=config.period_days)
        raw_inputs: list[RawInput] = []
        advisories: dict[str, Advisory] = {}
        for source in config.sources:
            if isinstance(source, ProviderSource):
                ctx.log.info("advisories: reading provider %s", source.metadata_url)
                fetched = sources.fetch_provider(
                    str(source.metadata_url),
                    lookback,
                    timeout=source.timeout_seconds,
                    max_documents=source.max_documents,
                )
            else:
                ctx.log.info("advisories: reading folder %s", source.path)
                fetched = sources.read_folder(source.path)
            raw_inputs.extend(fetched)
            for raw in fetched:
                if raw.kind != "csaf":
                    continue
                try:
                    advisory = parse_advisory(sources.load_json(raw))
                except CsafError as error:
                    raise CollectorError(f"{raw.origin}: {error}") from None
                if advisory.current_release < lookback or advisory.initial_release > now:
                    continue
                known = advisories.get(advisory.tracking_id)
                if known is None or advisory.current_release > known.current_release:
                    advisories[advisory.tracking_id] = advisory

        hosts: dict[str, tuple[dict[str, str], list[str]]] = {}
        for item in config.inventory:
            installed: dict[str, str] = {}
            if item.dpkg_query_path is not None or item.run_dpkg_query:
                raw = read_or_run(item.host, "dpkg-query", path=item.dpkg_query_path, argv=DPKG_QUERY_ARGV, timeout=120)
                raw_inputs.append(raw)
                installed = parse_dpkg_query(text_of(raw), raw.origin)
            hosts[item.host] = (installed, list(item.cpes))

        decisions = {decision.advisory: decision for decision in sorted(config.decisions, key=lambda d: d.at)}
        rows: dict[str, dict[str, Any]] = {}
        findings: list[FindingDraft] = []
        for tracking_id, advisory in sorted(advisories.items()):
            affected: dict[str, list[str]] = {}
            for host, (installed, cpes) in sorted(hosts.items()):
                hits = sorted({hit for product in advisory.affected for hit in _product_hits(product, installed, cpes)})
                if hits:
                    affected[host] = hits
            decision = decisions.get(tracking_id)
            days_open = max((now - advisory.initial_release).days, 0)
            relevant = SEVERITY_RANK[advisory.severity] >= SEVERITY_RANK[config.min_severity]
            rows[tracking_id] = {
                "title": advisory.title,
                "publisher": advisory.publisher,
                "initial_release": iso(advisory.initial_release),
                "current_release": iso(advisory.current_release),
                "in_period": advisory.current_release >= period_start,
                "severity": advisory.severity,
                "score": advisory.score,
                "cves": advisory.cves,
                "affected_hosts": affected,
                "days_open": days_open,
                "decision": None if decision is None else decision.model_dump(mode="json"),
            }
            if affected and relevant and decision is None and days_open > config.max_open_days:
                listed = "; ".join(f"{host}: {', '.join(hits)}" for host, hits in affected.items())
                findings.append(
                    FindingDraft(
                        key=f"advisory-open:{tracking_id}",
                        title=f"{advisory.severity.capitalize()} advisory {tracking_id} affects installed software, "
                        f"no decision after {days_open} days",
                        severity=Severity.critical if advisory.severity == "critical" else Severity.high,
                        detail=f"{advisory.title} ({', '.join(advisory.cves) or 'no CVE'}). Affected: {listed}. "
                        "Record 'patched', 'mitigated' or 'not applicable' with the reasoning.",
                        subject=tracking_id,
                    )
                )
            if affected and decision is not None and decision.status == "patched":
                findings.append(
                    FindingDraft(
                        key=f"advisory-still-affected:{tracking_id}",
                        title=f"{tracking_id} is marked patched but installed versions are still affected",
                        severity=Severity.medium,
                        subject=tracking_id,
                        detail=f"Decision by {decision.by} on {decision.at:%Y-%m-%d}; still affected: "
                        + "; ".join(f"{host}: {', '.join(hits)}" for host, hits in affected.items()),
                    )
                )
        if not any(row["in_period"] for row in rows.values()):
            findings.append(
                FindingDraft(
                    key="no-advisories-in-period",
                    severity=Severity.medium,
                    subject=ctx.instance_name,
                    title=f"No security advisory was read for the last {config.period_days} days",
                    detail="Either the sources published nothing (unusual) or the feed is not being read.",
                )
            )

        finding_keys = sorted(finding.key for finding in findings)
        normalised = json_ready(
            {
                "collector": self.name,
                "collector_version": self.version,
                "collected_at": iso(now),
                "policy": {
                    "period_days": config.period_days,
                    "lookback_days": config.lookback_days,
                    "max_open_days": config.max_open_days,
                    "min_severity": config.min_severity,
                },
                "hosts": {
                    host: {"packages": len(installed), "cpes": cpes}
                    for host, (installed, cpes) in sorted(hosts.items())
                },
                "advisories": rows,
                "summary": {
                    "in_period": sum(row["in_period"] for row in rows.values()),
                    "affecting": sorted(tid for tid, row in rows.items() if row["affected_hosts"]),
                    "decided": sorted(tid for tid, row in rows.items() if row["decision"]),
                },
                "finding_keys": finding_keys,
            }
        )
        normalised["diff"] = diff(finding_keys, ctx.previous)
        report = tabular_report(
            title="Security advisories report",
            instance_name=ctx.instance_name,
            requirement="ORG-2/advisories",
            policy=(
                f"Advisories of the last {config.period_days} days are listed; every {config.min_severity} "
                f"or worse advisory affecting installed software gets a decision within "
                f"{config.max_open_days} days."
            ),
            normalised=normalised,
            sections=[
                {
                    "heading": f"Advisories seen in the period ({config.period_days} days)",
                    "columns": ["Advisory", "Published / updated", "Severity", "Title", "Affected hosts", "Decision"],
                    "rows": [_row(tid, row) for tid, row in rows.items() if row["in_period"]],
                    "empty": "No advisory was published or updated in the period.",
                },
                {
                    "heading": "Earlier advisories still affecting installed software",
                    "columns": ["Advisory", "Published / updated", "Severity", "Title", "Affected hosts", "Decision"],
                    "rows": [
                        _row(tid, row) for tid, row in rows.items() if not row["in_period"] and row["affected_hosts"]
                    ],
                    "empty": "None.",
                },
            ],
            findings=findings,
        )
        return CollectResult(
            normalised=normalised,
            artifacts=artifacts(ctx, "advisories", raw_inputs, normalised, report),
            findings=findings,
        )


def _row(tracking_id: str, row: Mapping[str, Any]) -> list[Any]:
    decision = row["decision"]
    return [
        tracking_id,
        f"{row['initial_release'][:10]} / {row['current_release'][:10]}",
        f"{row['severity']}" + (f" ({row['score']})" if row["score"] is not None else ""),
        row["title"],
        "; ".join(f"{host}: {', '.join(hits)}" for host, hits in row["affected_hosts"].items()) or "none",
        "none"
        if decision is None
        else f"{decision['status'].replace('_', ' ')} by {decision['by']} on {decision['at'][:10]}"
        + (f": {decision['note']}" if decision["note"] else ""),
    ]
