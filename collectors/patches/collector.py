"""The patch log collector (measure OPS-2): what was installed, upgraded or removed and when,
which updates are pending (security ones marked), and how long since the last upgrade."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectors.base import Artifact, CollectContext, CollectorError, CollectResult, FindingDraft
from collectors.options import HostCommand, HostGlob
from collectors.patches import analysis
from collectors.patches.models import ParseError
from collectors.patches.parsers import (
    DEFAULT_HOTFIX_DATE_FORMATS,
    parse_apt_get_simulate,
    parse_apt_history,
    parse_apt_list_upgradable,
    parse_dpkg_log,
    parse_hotfix_csv,
    parse_unattended_upgrades_log,
)
from collectors.patches.sources import (
    RawInput,
    decode_text,
    decompressed,
    read_file,
    read_globs,
    run_command,
    write_raw_bundle,
)

_TEMPLATES = Path(__file__).parent / "templates"


# The command each input runs when its instance names neither a file nor a command of its own:
# fixed argv, never a shell (the portal's pages and API can only choose these).
COMMANDS: dict[str, tuple[str, ...]] = {
    "apt_list_upgradable": ("apt", "list", "--upgradable"),
    "apt_get_simulate": ("apt-get", "-s", "upgrade"),
}


class CommandOutput(BaseModel):
    """Where a command's output comes from: a file recorded earlier, a command of the
    operator's own (both only in host-managed instances), or else the command the collector
    declares for the input (``COMMANDS``). ``true`` stands for ``{}``."""

    model_config = ConfigDict(extra="forbid")

    path: HostGlob | None = None  # one file (confined like a glob)
    command: HostCommand | None = None
    timeout_seconds: float = Field(default=120, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _true_means_declared(cls, value: object) -> object:
        return {} if value is True else value

    @model_validator(mode="after")
    def _at_most_one_source(self) -> CommandOutput:
        if self.path is not None and self.command is not None:
            raise ValueError("give exactly one of path or command (or neither, for the declared command)")
        return self


class PatchHost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=253)
    os: Literal["debian", "windows"]
    timezone: str = "UTC"
    apt_history: list[HostGlob] = Field(default_factory=list)
    dpkg_log: list[HostGlob] = Field(default_factory=list)
    unattended_upgrades_log: list[HostGlob] = Field(default_factory=list)
    apt_list_upgradable: CommandOutput | None = None
    apt_get_simulate: CommandOutput | None = None
    hotfix_csv: CommandOutput | None = None
    hotfix_date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_HOTFIX_DATE_FORMATS), min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _inputs_match_os(self) -> PatchHost:
        debian_inputs = (
            self.apt_history
            or self.dpkg_log
            or self.unattended_upgrades_log
            or self.apt_list_upgradable
            or self.apt_get_simulate
        )
        if self.os == "debian":
            if self.hotfix_csv is not None:
                raise ValueError(f"{self.name}: hotfix_csv is for windows hosts")
            if not debian_inputs:
                raise ValueError(f"{self.name}: a debian host needs at least one apt/dpkg input")
        else:
            if debian_inputs:
                raise ValueError(f"{self.name}: apt/dpkg inputs are for debian hosts")
            if self.hotfix_csv is None or (self.hotfix_csv.path is None and self.hotfix_csv.command is None):
                raise ValueError(f"{self.name}: a windows host needs hotfix_csv with a path or command")
        return self


class PatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[PatchHost] = Field(min_length=1)
    security_pending_days: int = Field(default=7, ge=0)
    max_days_without_upgrade: int = Field(default=7, ge=1)

    @model_validator(mode="after")
    def _unique_host_names(self) -> PatchConfig:
        names = [host.name for host in self.hosts]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate host name(s): {', '.join(duplicates)}")
        return self


def _parsed(raw: RawInput, parser: Callable[[str], Any]) -> Any:
    """Decompress, decode and parse one input; parser errors name the file and line."""
    text = decode_text(raw, decompressed(raw))
    try:
        return parser(text)
    except ParseError as error:
        raise CollectorError(f"{raw.origin}: {error}") from None


def _command_output(host: str, kind: str, source: CommandOutput, declared: str = "") -> RawInput:
    if source.path is not None:
        return read_file(host, kind, source.path)
    command = source.command or list(COMMANDS[declared])
    return run_command(host, kind, command, source.timeout_seconds)


class PatchCollector:
    name: ClassVar[str] = "patches"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[BaseModel]] = PatchConfig
    default_schedule: ClassVar[str] = "0 5 * * *"
    requirements: ClassVar[tuple[str, ...]] = ("OPS-2/patches",)
    commands: ClassVar[dict[str, tuple[str, ...]]] = {
        "debian": (
            "apt list --upgradable (apt_list_upgradable: true)",
            "apt-get -s upgrade (apt_get_simulate: true)",
        ),
        "windows": ("none: hotfix_csv is a recorded file of a host-managed instance",),
    }

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: PatchConfig = ctx.config
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        policy = analysis.Policy(config.security_pending_days, config.max_days_without_upgrade)
        previous_hosts: Mapping[str, Any] = (ctx.previous or {}).get("hosts") or {}

        raw_inputs: list[RawInput] = []
        hosts: dict[str, dict[str, Any]] = {}
        findings: list[FindingDraft] = []
        for host in config.hosts:
            ctx.log.info("patches: reading inputs of %s (%s)", host.name, host.os)
            inputs, records = self._read_host(host)
            raw_inputs.extend(inputs)
            summary = analysis.summarise_host(
                os_name=host.os,
                zone=ZoneInfo(host.timezone),
                records=records,
                previous_host=previous_hosts.get(host.name),
                now=now,
            )
            summary["sources"] = [{"kind": raw.kind, "origin": raw.origin, "bytes": len(raw.data)} for raw in inputs]
            hosts[host.name] = summary
            findings.extend(analysis.host_findings(host.name, summary, policy))

        finding_keys = sorted(finding.key for finding in findings)
        normalised: dict[str, Any] = {
            "collector": self.name,
            "collector_version": self.version,
            "collected_at": analysis.iso(now),
            "policy": {
                "security_pending_days": policy.security_pending_days,
                "max_days_without_upgrade": policy.max_days_without_upgrade,
            },
            "hosts": hosts,
            "finding_keys": finding_keys,
        }
        normalised["diff"] = analysis.diff_against_previous(hosts, finding_keys, ctx.previous)
        # a JSON round trip so tuples become lists: ``normalised`` equals what the next run
        # reads back as ``previous``
        normalised = json.loads(json.dumps(normalised))
        artifacts = self._artifacts(ctx, now, raw_inputs, normalised, findings)
        return CollectResult(normalised=normalised, artifacts=artifacts, findings=findings)

    def _read_host(self, host: PatchHost) -> tuple[list[RawInput], analysis.HostRecords]:
        if host.os == "windows":
            return self._read_windows_host(host)
        return self._read_debian_host(host)

    def _read_debian_host(self, host: PatchHost) -> tuple[list[RawInput], analysis.HostRecords]:
        records = analysis.HostRecords()
        inputs: list[RawInput] = []
        for raw in read_globs(host.name, "apt-history", host.apt_history):
            records.transactions.extend(_parsed(raw, parse_apt_history))
            inputs.append(raw)
        records.transactions = analysis.unique_transactions(records.transactions)
        for raw in read_globs(host.name, "dpkg-log", host.dpkg_log):
            records.dpkg_events.extend(_parsed(raw, parse_dpkg_log))
            inputs.append(raw)
        # rotated copies can overlap; dict.fromkeys keeps the log order of same-second events
        records.dpkg_events = sorted(dict.fromkeys(records.dpkg_events), key=lambda event: event.at)
        for raw in read_globs(host.name, "unattended-upgrades-log", host.unattended_upgrades_log):
            records.unattended_runs.extend(_parsed(raw, parse_unattended_upgrades_log))
            inputs.append(raw)
        records.unattended_runs.sort(key=lambda run: run.started)
        listed = simulated = None
        if host.apt_list_upgradable is not None:
            raw = _command_output(host.name, "apt-list-upgradable", host.apt_list_upgradable, "apt_list_upgradable")
            listed = _parsed(raw, parse_apt_list_upgradable)
            inputs.append(raw)
        if host.apt_get_simulate is not None:
            raw = _command_output(host.name, "apt-get-simulate", host.apt_get_simulate, "apt_get_simulate")
            simulated = _parsed(raw, parse_apt_get_simulate)
            inputs.append(raw)
        records.pending = analysis.merge_pending(listed, simulated)
        return inputs, records

    def _read_windows_host(self, host: PatchHost) -> tuple[list[RawInput], analysis.HostRecords]:
        assert host.hotfix_csv is not None  # guaranteed by PatchHost validation
        raw = _command_output(host.name, "hotfix-csv", host.hotfix_csv)
        formats = tuple(host.hotfix_date_formats)
        hotfixes = _parsed(raw, lambda text: parse_hotfix_csv(text, formats))
        return [raw], analysis.HostRecords(hotfixes=hotfixes)

    def _artifacts(
        self,
        ctx: CollectContext,
        now: datetime,
        raw_inputs: Sequence[RawInput],
        normalised: Mapping[str, Any],
        findings: Sequence[FindingDraft],
    ) -> list[Artifact]:
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        bundle = write_raw_bundle(raw_inputs, ctx.workdir / f"patches-raw-{stamp}.tar.gz", now)
        return [
            Artifact(filename=bundle.name, kind="raw", content_type="application/gzip", path=bundle),
            Artifact(
                filename=f"patches-{stamp}.json",
                kind="normalised",
                content_type="application/json",
                data=json.dumps(normalised, indent=2, sort_keys=True).encode(),
            ),
            Artifact(
                filename=f"patches-{stamp}.html",
                kind="report",
                content_type="text/html",
                data=render_report(ctx.instance_name, normalised, findings).encode(),
            ),
        ]


def render_report(instance_name: str, normalised: Mapping[str, Any], findings: Sequence[FindingDraft]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html")
    return template.render(
        instance_name=instance_name,
        data=normalised,
        findings=sorted(findings, key=lambda f: (-f.severity.rank, f.key)),
    )
