"""Parsers for the disk encryption inputs. Each returns the volumes of one device as
:class:`Volume` records; ``ParseError`` names what is wrong with the input."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Role = Literal["system", "data", "boot", "swap", "removable"]


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Volume:
    name: str  # device or mount point as the tool names it
    mountpoint: str | None
    role: Role
    encrypted: bool
    detail: str = ""
    protection_on: bool | None = None  # BitLocker: encrypted but protection suspended is False
    mapping: str | None = None  # Linux: the dm-crypt mapping the volume sits on


# --- Linux: lsblk -J -o NAME,TYPE,FSTYPE,MOUNTPOINT,UUID ------------------------------------

_PSEUDO_FSTYPES = frozenset({"squashfs", "iso9660", "udf"})


def _mountpoints(node: Mapping[str, Any]) -> list[str]:
    # util-linux < 2.37 and ``-o MOUNTPOINT`` give "mountpoint"; ``-o MOUNTPOINTS`` gives a list
    if "mountpoints" in node:
        return [point for point in node["mountpoints"] or () if point]
    point = node.get("mountpoint")
    return [point] if point else []


def _linux_role(mountpoint: str, fstype: str | None) -> Role:
    if mountpoint == "[SWAP]" or fstype == "swap":
        return "swap"
    if mountpoint == "/":
        return "system"
    if mountpoint in ("/boot", "/boot/efi", "/efi"):
        return "boot"
    return "data"


def parse_lsblk(text: str) -> list[Volume]:
    """Every mounted filesystem and active swap; a volume is encrypted when it or a device it
    sits on is a dm-crypt mapping (TYPE ``crypt``: LUKS or plain dm-crypt)."""
    try:
        document = json.loads(text)
        devices = document["blockdevices"]
    except (ValueError, KeyError, TypeError) as error:
        raise ParseError(f"not lsblk -J output ({error})") from None
    if not isinstance(devices, list):
        raise ParseError("not lsblk -J output (blockdevices is not a list)")
    volumes: list[Volume] = []

    def walk(node: Mapping[str, Any], chain: tuple[Mapping[str, Any], ...]) -> Iterator[Volume]:
        path = (*chain, node)
        if not isinstance(node, Mapping) or "name" not in node or "type" not in node:
            raise ParseError(f"a block device without name or type: {node!r}"[:200])
        fstype = node.get("fstype")
        if fstype not in _PSEUDO_FSTYPES:
            crypt = next((item for item in reversed(path) if item.get("type") == "crypt"), None)
            for point in _mountpoints(node):
                yield Volume(
                    name=str(node["name"]),
                    mountpoint=point,
                    role=_linux_role(point, fstype),
                    encrypted=crypt is not None,
                    mapping=None if crypt is None else str(crypt["name"]),
                    detail=(
                        f"dm-crypt mapping {crypt['name']}"
                        if crypt is not None
                        else " on ".join(f"{item['name']} ({item['type']})" for item in reversed(path))
                    ),
                )
        for child in node.get("children") or ():
            yield from walk(child, path)

    for device in devices:
        volumes.extend(walk(device, ()))
    return volumes


_STATUS_HEAD = re.compile(r"^(?P<device>\S+) is (?P<state>active(?: and is in use)?|inactive)\.")


def parse_cryptsetup_status(text: str) -> dict[str, str]:
    """``cryptsetup status NAME``: the mapping's state and its ``key: value`` lines."""
    lines = text.strip().splitlines()
    head = _STATUS_HEAD.match(lines[0]) if lines else None
    if head is None:
        raise ParseError("not cryptsetup status output (no '... is active' line)")
    fields = {"device_path": head["device"], "state": head["state"]}
    for line in lines[1:]:
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


# --- Windows: manage-bde -status --------------------------------------------------------------

_VOLUME_HEAD = re.compile(r"^Volume (?P<mount>[A-Z]:|\\\\\?\\Volume\{[^}]+\}\\?)\s*(?:\[(?P<label>.*)\])?\s*$")


def parse_manage_bde(text: str) -> list[Volume]:
    volumes: list[Volume] = []
    current: dict[str, str] | None = None
    blocks: list[dict[str, str]] = []
    for raw_line in text.splitlines():
        line = raw_line.rstrip()
        head = _VOLUME_HEAD.match(line)
        if head:
            current = {"mount": head["mount"], "label": head["label"] or ""}
            blocks.append(current)
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped in ("[OS Volume]", "[Data Volume]", "[Removable Volume]"):
            current["kind"] = stripped
            continue
        key, sep, value = stripped.partition(":")
        if sep and key and not key.startswith("["):
            current[key.strip()] = value.strip()
    if not blocks:
        raise ParseError("not manage-bde -status output (no 'Volume X:' section)")
    for block in blocks:
        if "Conversion Status" not in block or "Protection Status" not in block:
            raise ParseError(f"volume {block['mount']}: no Conversion Status or Protection Status")
        kind = block.get("kind", "")
        role: Role = "system" if kind == "[OS Volume]" else "removable" if kind == "[Removable Volume]" else "data"
        conversion = block["Conversion Status"]
        protection = block["Protection Status"]
        volumes.append(
            Volume(
                name=block["mount"],
                mountpoint=block["mount"],
                role=role,
                encrypted=conversion == "Fully Encrypted",
                protection_on=protection == "Protection On",
                detail=f"{conversion}, {protection}, {block.get('Encryption Method', 'method unknown')}",
            )
        )
    return volumes


# --- Windows: Get-BitLockerVolume | ConvertTo-Json ---------------------------------------------

# ConvertTo-Json writes the enums' numbers unless -EnumsAsStrings (PowerShell 7) is given
_VOLUME_STATUS = {
    0: "FullyDecrypted",
    1: "FullyEncrypted",
    2: "EncryptionInProgress",
    3: "DecryptionInProgress",
    4: "EncryptionPaused",
    5: "DecryptionPaused",
}
_PROTECTION_STATUS = {0: "Off", 1: "On", 2: "Unknown"}
_VOLUME_TYPE = {0: "OperatingSystem", 1: "Data", 2: "Data"}
_VOLUME_TYPE_ROLE: dict[str, Role] = {"OperatingSystem": "system", "Data": "data", "FixedData": "data"}


def _enum(value: Any, names: Mapping[int, str]) -> str:
    if isinstance(value, int):
        return names.get(value, str(value))
    return str(value)


def parse_bitlocker_json(text: str) -> list[Volume]:
    try:
        document = json.loads(text.lstrip("\ufeff"))
    except ValueError as error:
        raise ParseError(f"not JSON ({error})") from None
    items = [document] if isinstance(document, dict) else document
    if not isinstance(items, list) or not items:
        raise ParseError("not Get-BitLockerVolume output (expected an object or a list)")
    volumes: list[Volume] = []
    for item in items:
        if not isinstance(item, dict) or "MountPoint" not in item or "VolumeStatus" not in item:
            raise ParseError("a volume without MountPoint or VolumeStatus")
        status = _enum(item["VolumeStatus"], _VOLUME_STATUS)
        protection = _enum(item.get("ProtectionStatus"), _PROTECTION_STATUS)
        raw_type = item.get("VolumeType")
        removable = raw_type == 2 or raw_type == "Removable"
        type_name = _enum(raw_type, _VOLUME_TYPE)
        role: Role = "removable" if removable else _VOLUME_TYPE_ROLE.get(type_name, "data")
        volumes.append(
            Volume(
                name=str(item["MountPoint"]),
                mountpoint=str(item["MountPoint"]),
                role=role,
                encrypted=status == "FullyEncrypted",
                protection_on=protection == "On",
                detail=f"{status}, protection {protection}, {item.get('EncryptionPercentage', '?')}% encrypted",
            )
        )
    return volumes


# --- macOS: fdesetup status ---------------------------------------------------------------------


def parse_fdesetup(text: str) -> list[Volume]:
    first = text.strip().splitlines()[0] if text.strip() else ""
    if first == "FileVault is On.":
        encrypted, detail = True, first
    elif first == "FileVault is Off.":
        encrypted, detail = False, first
    elif first.startswith(("Encryption in progress", "Decryption in progress")):
        encrypted, detail = False, first
    else:
        raise ParseError(f"not fdesetup status output: {first[:80]!r}")
    return [Volume(name="FileVault", mountpoint="/", role="system", encrypted=encrypted, detail=detail)]


# --- MDM: Intune device export (CSV) -----------------------------------------------------------


@dataclass(frozen=True)
class MdmDevice:
    name: str
    os: str
    encrypted: bool
    last_check_in: datetime | None
    compliance: str
    user: str


def _check_in(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    # Intune writes seven fractional digits ("2026-11-27 08:14:02.0000000"), in UTC
    value = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(f"unreadable Last check-in {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_intune_csv(text: str, columns: Mapping[str, str]) -> list[MdmDevice]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in columns.values() if column not in (reader.fieldnames or ())]
    if missing:
        raise ParseError(f"the export has no column(s) {', '.join(missing)}")
    devices: list[MdmDevice] = []
    for number, row in enumerate(reader, start=2):
        value = row[columns["encrypted"]].strip().lower()
        if value not in ("true", "false"):
            raise ParseError(f"line {number}: Encrypted is {row[columns['encrypted']]!r}, not True/False")
        try:
            check_in = _check_in(row[columns["last_check_in"]])
        except ParseError as error:
            raise ParseError(f"line {number}: {error}") from None
        devices.append(
            MdmDevice(
                name=row[columns["name"]].strip(),
                os=row.get(columns["os"], "").strip(),
                encrypted=value == "true",
                last_check_in=check_in,
                compliance=row.get(columns["compliance"], "").strip(),
                user=row.get(columns["user"], "").strip(),
            )
        )
    return devices
