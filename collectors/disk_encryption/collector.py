"""The disk encryption collector (measure CRY-2: information on laptops and desktops is
encrypted). Reads per device what the operating system reports (Linux lsblk + cryptsetup,
Windows manage-bde or Get-BitLockerVolume, macOS fdesetup) and, for a fleet, an MDM device
export, then compares what reported with the device inventory."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.base import CollectContext, CollectorError, CollectResult, FindingDraft, Severity
from collectors.common import (
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
from collectors.disk_encryption import parsers
from collectors.disk_encryption.parsers import ParseError, Volume
from collectors.patches.sources import run_command

DeviceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=253)]
_MAPPING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

LSBLK_ARGV = ("lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT,UUID")
MANAGE_BDE_ARGV = ("manage-bde", "-status")
BITLOCKER_ARGV = ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", "Get-BitLockerVolume | ConvertTo-Json")
FDESETUP_ARGV = ("fdesetup", "status")


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: DeviceName
    path: str | None = None  # a report the device dropped (its age is the file's mtime)
    timeout_seconds: float = Field(default=60, gt=0, le=600)


class LinuxSource(_Source):
    """lsblk (recorded, or run here), and ``cryptsetup status`` per dm-crypt mapping found:
    recorded files by mapping name, or run here when lsblk was run here."""

    type: Literal["linux"]
    cryptsetup_status: dict[str, str] = Field(default_factory=dict)


class ManageBdeSource(_Source):
    type: Literal["manage-bde"]


class BitLockerJsonSource(_Source):
    type: Literal["bitlocker-json"]


class FdesetupSource(_Source):
    type: Literal["fdesetup"]


class IntuneColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "Device name"
    os: str = "OS"
    encrypted: str = "Encrypted"
    last_check_in: str = "Last check-in"
    compliance: str = "Compliance"
    user: str = "Primary user UPN"


class IntuneCsvSource(BaseModel):
    """An MDM device export: every enrolled device's encryption state and last check-in,
    so a fleet is covered without a collector per laptop."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["intune-csv"]
    name: DeviceName
    path: str
    columns: IntuneColumns = Field(default_factory=IntuneColumns)


DeviceSource = LinuxSource | ManageBdeSource | BitLockerJsonSource | FdesetupSource  # read from the device itself
Source = Annotated[DeviceSource | IntuneCsvSource, Field(discriminator="type")]


class DiskEncryptionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(min_length=1)
    inventory: list[DeviceName] = Field(default_factory=list)
    max_report_age_days: int = Field(default=30, ge=1, le=365)
    allowed_unencrypted: list[str] = Field(default_factory=lambda: ["/boot", "/boot/efi", "/efi"])
    removable_must_be_encrypted: bool = False

    @model_validator(mode="after")
    def _unique_devices(self) -> DiskEncryptionConfig:
        names = [source.name if isinstance(source, IntuneCsvSource) else source.device for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"device(s) configured twice: {', '.join(duplicates)}")
        return self


def _parsed(raw: RawInput, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(text_of(raw))
    except ParseError as error:
        raise CollectorError(f"{raw.origin}: {error}") from None


def _reported_at(source: _Source, now: datetime) -> datetime:
    if source.path is None:
        return now
    try:
        return datetime.fromtimestamp(os.stat(os.path.expanduser(source.path)).st_mtime, UTC)
    except OSError as error:
        raise CollectorError(f"cannot read {source.path}: {error.strerror or error}") from None


def _volume_row(volume: Volume) -> dict[str, Any]:
    return {
        "name": volume.name,
        "mountpoint": volume.mountpoint,
        "role": volume.role,
        "encrypted": volume.encrypted,
        "protection_on": volume.protection_on,
        "detail": volume.detail,
    }


class DiskEncryptionCollector:
    name: ClassVar[str] = "disk-encryption"
    version: ClassVar[str] = "1.0.0"
    Config: ClassVar[type[BaseModel]] = DiskEncryptionConfig
    default_schedule: ClassVar[str] = "0 7 * * *"
    requirements: ClassVar[tuple[str, ...]] = ("CRY-2/disk-encryption",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: DiskEncryptionConfig = ctx.config
        now = aware(ctx.now)
        raw_inputs: list[RawInput] = []
        devices: dict[str, dict[str, Any]] = {}
        for source in config.sources:
            if isinstance(source, IntuneCsvSource):
                raw = read_or_run(source.name, "intune-csv", path=source.path, argv=(), timeout=1)
                raw_inputs.append(raw)
                columns = source.columns.model_dump()
                for device in _parsed(raw, partial(parsers.parse_intune_csv, columns=columns)):
                    devices[device.name] = {
                        "source": f"intune-csv:{source.name}",
                        "os": device.os,
                        "reported_at": iso(device.last_check_in),
                        "compliance": device.compliance,
                        "user": device.user,
                        "volumes": [
                            _volume_row(
                                Volume(
                                    name="device",
                                    mountpoint=None,
                                    role="system",
                                    encrypted=device.encrypted,
                                    detail=f"MDM: Encrypted={device.encrypted}, {device.compliance or 'compliance unknown'}",
                                )
                            )
                        ],
                    }
                continue
            ctx.log.info("disk-encryption: reading %s (%s)", source.device, source.type)
            volumes, inputs, extra = self._read_device(source, ctx)
            raw_inputs.extend(inputs)
            devices[source.device] = {
                "source": source.type,
                "os": {"linux": "linux", "fdesetup": "macos"}.get(source.type, "windows"),
                "reported_at": iso(_reported_at(source, now)),
                "volumes": [_volume_row(volume) for volume in volumes],
                **extra,
            }

        findings = self._findings(config, devices, now)
        finding_keys = sorted(finding.key for finding in findings)
        inventory = sorted(set(config.inventory))
        normalised = json_ready(
            {
                "collector": self.name,
                "collector_version": self.version,
                "collected_at": iso(now),
                "policy": {
                    "max_report_age_days": config.max_report_age_days,
                    "allowed_unencrypted": config.allowed_unencrypted,
                    "removable_must_be_encrypted": config.removable_must_be_encrypted,
                },
                "inventory": inventory,
                "devices": devices,
                "summary": {
                    "devices": len(devices),
                    "encrypted_devices": sum(
                        all(v["encrypted"] for v in d["volumes"] if v["role"] in ("system", "data"))
                        for d in devices.values()
                    ),
                    "inventory_without_report": sorted(set(inventory) - set(devices)),
                },
                "finding_keys": finding_keys,
            }
        )
        normalised["diff"] = diff(finding_keys, ctx.previous)
        report = tabular_report(
            title="Disk encryption report",
            instance_name=ctx.instance_name,
            requirement="CRY-2/disk-encryption",
            policy=(
                f"Every system and data volume encrypted; every inventory device reports within "
                f"{config.max_report_age_days} days."
            ),
            normalised=normalised,
            sections=[
                {
                    "heading": "Volumes",
                    "columns": ["Device", "Source", "Reported", "Volume", "Role", "Encrypted", "Detail"],
                    "rows": [
                        [
                            name,
                            device["source"],
                            device["reported_at"],
                            volume["mountpoint"] or volume["name"],
                            volume["role"],
                            "yes" if volume["encrypted"] else "NO",
                            volume["detail"],
                        ]
                        for name, device in sorted(devices.items())
                        for volume in device["volumes"]
                    ],
                    "empty": "No device reported.",
                },
                {
                    "heading": "Inventory",
                    "columns": ["Device", "Last report"],
                    "rows": [[name, (devices.get(name) or {}).get("reported_at") or "never"] for name in inventory],
                    "empty": "No inventory configured: only the reporting devices are checked.",
                },
            ],
            findings=findings,
        )
        return CollectResult(
            normalised=normalised,
            artifacts=artifacts(ctx, "disk-encryption", raw_inputs, normalised, report),
            findings=findings,
        )

    def _read_device(
        self, source: DeviceSource, ctx: CollectContext
    ) -> tuple[list[Volume], list[RawInput], dict[str, Any]]:
        argv, parser = {
            "linux": (LSBLK_ARGV, parsers.parse_lsblk),
            "manage-bde": (MANAGE_BDE_ARGV, parsers.parse_manage_bde),
            "bitlocker-json": (BITLOCKER_ARGV, parsers.parse_bitlocker_json),
            "fdesetup": (FDESETUP_ARGV, parsers.parse_fdesetup),
        }[source.type]
        raw = read_or_run(
            source.device,
            source.type,
            path=source.path,
            argv=argv,
            timeout=source.timeout_seconds,
        )
        volumes: list[Volume] = _parsed(raw, parser)
        inputs = [raw]
        extra: dict[str, Any] = {}
        if isinstance(source, LinuxSource):
            mappings = sorted({v.mapping for v in volumes if v.mapping})
            extra["dm_crypt"] = {}
            for mapping in mappings:
                status_raw = self._cryptsetup_status(source, mapping, ctx)
                if status_raw is None:
                    continue
                inputs.append(status_raw)
                extra["dm_crypt"][mapping] = _parsed(status_raw, parsers.parse_cryptsetup_status)
        return volumes, inputs, extra

    def _cryptsetup_status(self, source: LinuxSource, mapping: str, ctx: CollectContext) -> RawInput | None:
        if mapping in source.cryptsetup_status:
            return read_or_run(
                source.device,
                f"cryptsetup-status-{mapping}",
                path=source.cryptsetup_status[mapping],
                argv=(),
                timeout=1,
            )
        if source.path is not None or not _MAPPING_NAME.match(mapping):
            return None  # a recorded lsblk: the mapping's details were not recorded with it
        try:
            return run_command(
                source.device, f"cryptsetup-status-{mapping}", ("cryptsetup", "status", mapping), source.timeout_seconds
            )
        except CollectorError as error:
            # lsblk already shows the mapping; the cipher details are a bonus, not a failure
            ctx.log.warning("disk-encryption: %s", error)
            return None

    def _findings(
        self, config: DiskEncryptionConfig, devices: Mapping[str, Mapping[str, Any]], now: datetime
    ) -> list[FindingDraft]:
        findings: list[FindingDraft] = []
        allowed = set(config.allowed_unencrypted)
        for name, device in sorted(devices.items()):
            for volume in device["volumes"]:
                checked_roles = {"system", "data", "swap"} | (
                    {"removable"} if config.removable_must_be_encrypted else set()
                )
                label = volume["mountpoint"] or volume["name"]
                if volume["role"] not in checked_roles or label in allowed:
                    continue
                if not volume["encrypted"]:
                    findings.append(
                        FindingDraft(
                            key=f"unencrypted-volume:{name}:{label}",
                            title=f"{volume['role'].capitalize()} volume {label} on {name} is not encrypted",
                            severity=Severity.medium if volume["role"] == "swap" else Severity.high,
                            detail=f"Information on laptops and desktops is to be encrypted (CRY-2). {volume['detail']}",
                            subject=name,
                        )
                    )
                elif volume["protection_on"] is False:
                    findings.append(
                        FindingDraft(
                            key=f"encryption-suspended:{name}:{label}",
                            title=f"BitLocker protection is suspended on {label} of {name}",
                            severity=Severity.medium,
                            detail=f"The volume is encrypted but its key is stored in the clear. {volume['detail']}",
                            subject=name,
                        )
                    )
        limit = now - timedelta(days=config.max_report_age_days)
        for name in sorted(set(config.inventory)):
            reported_device = devices.get(name)
            reported = (
                datetime.fromisoformat(reported_device["reported_at"])
                if reported_device and reported_device["reported_at"]
                else None
            )
            if reported is not None and reported >= limit:
                continue
            when = "never reported" if reported is None else f"last reported {reported:%Y-%m-%d}"
            findings.append(
                FindingDraft(
                    key=f"no-encryption-report:{name}",
                    title=f"{name} has no disk encryption report within {config.max_report_age_days} days",
                    severity=Severity.medium,
                    detail=f"Device in the inventory, {when}; its encryption state is unknown.",
                    subject=name,
                )
            )
        return findings
