"""Reading the inputs: files, commands and the EC2 API. All I/O lives here; parsing does not."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from collectors.base import CollectorError
from collectors.firewall.config import COMMANDS, AwsSource, IptablesSource, NftablesSource, Source


@dataclass(frozen=True)
class RawInput:
    """One input exactly as collected."""

    label: str  # unique within a run; also the member name in the raw archive
    kind: str  # "iptables", "nftables" or "aws"
    family: str  # "ipv4"/"ipv6" for iptables, empty otherwise
    origin: str  # the file, command or region, for messages and the report
    filename: str  # member name in the raw archive
    data: bytes


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CollectorError(f"{path}: cannot read: {error.strerror or error}") from error


def run_command(command: list[str], timeout: float) -> bytes:
    shown = " ".join(command)
    try:
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise CollectorError(f"{shown}: {command[0]} is not installed or not on PATH") from error
    except PermissionError as error:
        raise CollectorError(f"{shown}: not allowed to run {command[0]}") from error
    except subprocess.TimeoutExpired as error:
        raise CollectorError(f"{shown}: no answer within {timeout:g} s") from error
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        raise CollectorError(f"{shown}: exited with status {completed.returncode}: {stderr or 'no error output'}")
    return completed.stdout


def _file_or_command(path: Path | None, command: list[str], timeout: float) -> tuple[str, bytes]:
    if path is not None:
        return str(path), read_file(path)
    return " ".join(command), run_command(command, timeout)


def collect_iptables(source: IptablesSource) -> list[RawInput]:
    command = source.command or list(COMMANDS["iptables"])
    origin, data = _file_or_command(source.path, command, source.timeout_seconds)
    inputs = [RawInput(f"{source.name}/ipv4", "iptables", "ipv4", origin, f"{source.name}/ipv4.rules", data)]
    if source.ipv6:
        origin, data = _file_or_command(
            source.ipv6_path,
            source.ipv6_command or list(COMMANDS["iptables ipv6"]),
            source.timeout_seconds,
        )
        inputs.append(RawInput(f"{source.name}/ipv6", "iptables", "ipv6", origin, f"{source.name}/ipv6.rules", data))
    return inputs


def collect_nftables(source: NftablesSource) -> list[RawInput]:
    command = source.command or list(COMMANDS["nftables"])
    origin, data = _file_or_command(source.path, command, source.timeout_seconds)
    return [RawInput(source.name, "nftables", "", origin, f"{source.name}.json", data)]


def ec2_client(source: AwsSource, region: str) -> Any:
    credentials: dict[str, str] = {}
    if source.access_key_id is not None and source.secret_access_key is not None:
        credentials = {
            "aws_access_key_id": source.access_key_id.get_secret_value(),
            "aws_secret_access_key": source.secret_access_key.get_secret_value(),
        }
    session = boto3.session.Session(region_name=region, **credentials)
    config = BotoConfig(
        connect_timeout=source.timeout_seconds,
        read_timeout=source.timeout_seconds,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return session.client("ec2", endpoint_url=source.endpoint_url, config=config)


def describe_security_groups(client: Any) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_security_groups").paginate():
        groups.extend(page.get("SecurityGroups", []))
    return groups


def collect_aws(source: AwsSource) -> list[RawInput]:
    if source.path is not None:
        label = f"{source.name}/{source.regions[0]}"
        return [RawInput(label, "aws", "", str(source.path), f"{label}.json", read_file(source.path))]
    inputs = []
    for region in source.regions:
        try:
            groups = describe_security_groups(ec2_client(source, region))
        except (BotoCoreError, ClientError) as error:
            raise CollectorError(f"aws {source.name} {region}: DescribeSecurityGroups failed: {error}") from error
        # The API answer arrives parsed; this JSON of every page's groups is what the run saw.
        data = json.dumps({"SecurityGroups": groups}, indent=2, sort_keys=True, default=str).encode()
        label = f"{source.name}/{region}"
        inputs.append(RawInput(label, "aws", "", f"EC2 DescribeSecurityGroups in {region}", f"{label}.json", data))
    return inputs


def collect_source(source: Source) -> list[RawInput]:
    if isinstance(source, IptablesSource):
        return collect_iptables(source)
    if isinstance(source, NftablesSource):
        return collect_nftables(source)
    return collect_aws(source)
