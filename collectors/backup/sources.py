"""I/O for the backup collector: reading recorded files, running restic and borg, listing S3.

Every input is kept byte for byte as a :class:`RawFile` under a fixed name per repository, so
the raw artifact looks the same whether the output was recorded on the backup host or produced
here by running the tool.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from collectors.backup import parsers
from collectors.backup.analysis import Observation
from collectors.backup.config import (
    DEFAULT_PROGRAMS,
    BorgRepository,
    CheckFiles,
    ResticRepository,
    S3Location,
)
from collectors.base import CollectorError

# Output kept from a failing command in an error message; enough for restic's or borg's reason.
_ERROR_TAIL_CHARS = 600


@dataclass(frozen=True)
class RawFile:
    member: str  # name inside the raw archive: "<repository>/<file>"
    data: bytes
    origin: str  # the file path or command line it came from
    # when the content was produced: a recorded file's modification time, or None for
    # output of a command run now
    produced_at: datetime | None = None


@dataclass
class Gathered:
    observation: Observation
    raw_files: list[RawFile] = field(default_factory=list)


def _decode(raw: RawFile) -> str:
    try:
        return raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CollectorError(f"{raw.origin}: not UTF-8 text (byte {exc.start}); the file is corrupt") from exc


def _read(path: Path, member: str) -> RawFile:
    try:
        return RawFile(
            member=member,
            data=path.read_bytes(),
            origin=str(path),
            produced_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
        )
    except OSError as exc:
        raise CollectorError(f"{path}: cannot read ({exc.strerror or exc})") from exc


@dataclass(frozen=True)
class _Run:
    output: bytes
    exit_code: int
    command: str


def _run(argv: Sequence[str], env: Mapping[str, str], timeout: float, merge_stderr: bool) -> _Run:
    command = shlex.join(argv)
    try:
        completed = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,  # a prompt (borg's relocated-repository question) must fail, not hang
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CollectorError(f"{argv[0]}: not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise CollectorError(f"{command}: no result within {timeout:g} s") from exc
    if not merge_stderr and completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace")[-_ERROR_TAIL_CHARS:].strip()
        raise CollectorError(f"{command}: exited with {completed.returncode}: {tail}")
    return _Run(output=completed.stdout, exit_code=completed.returncode, command=command)


def _clean_env(prefix: str) -> dict[str, str]:
    """The collector's environment without the tool's own variables, so a RESTIC_PASSWORD or
    BORG_REPO left in the service environment can never redirect a check."""
    return {key: value for key, value in os.environ.items() if not key.startswith(prefix)}


def _check_files(name: str, stem: str, files: CheckFiles) -> tuple[RawFile, RawFile]:
    return _read(files.output, f"{name}/{stem}.txt"), _read(files.exit_code, f"{name}/{stem}.exitcode")


def _check_from_run(name: str, stem: str, run: _Run) -> tuple[RawFile, RawFile]:
    return (
        RawFile(member=f"{name}/{stem}.txt", data=run.output, origin=run.command),
        RawFile(member=f"{name}/{stem}.exitcode", data=f"{run.exit_code}\n".encode(), origin=run.command),
    )


def _restic_raw_recorded(repo: ResticRepository) -> list[RawFile]:
    assert repo.recorded is not None
    recorded = repo.recorded
    raw = [
        _read(recorded.snapshots, f"{repo.name}/snapshots.json"),
        *_check_files(repo.name, "check", recorded.check),
    ]
    if recorded.check_read_data is not None:
        raw += _check_files(repo.name, "check-read-data", recorded.check_read_data)
    if recorded.stats is not None:
        raw.append(_read(recorded.stats, f"{repo.name}/stats.json"))
    return raw


def _restic_raw_live(repo: ResticRepository) -> list[RawFile]:
    assert repo.repository is not None
    env = _clean_env("RESTIC_")
    base = [repo.binary or DEFAULT_PROGRAMS["restic"], "--repo", repo.repository]
    if repo.password_file is not None:
        base += ["--password-file", str(repo.password_file)]
    else:
        assert repo.password is not None
        env["RESTIC_PASSWORD"] = repo.password.get_secret_value()
    snapshots = _run([*base, "snapshots", "--json"], env, repo.timeout_seconds, merge_stderr=False)
    stats = _run([*base, "stats", "--json"], env, repo.timeout_seconds, merge_stderr=False)
    raw = [
        RawFile(member=f"{repo.name}/snapshots.json", data=snapshots.output, origin=snapshots.command),
        *_check_from_run(repo.name, "check", _run([*base, "check"], env, repo.timeout_seconds, merge_stderr=True)),
    ]
    read_flag = (
        "--read-data"
        if repo.read_data
        else f"--read-data-subset={repo.read_data_subset}"
        if repo.read_data_subset is not None
        else None
    )
    if read_flag is not None:
        run = _run([*base, "check", read_flag], env, repo.timeout_seconds, merge_stderr=True)
        raw += _check_from_run(repo.name, "check-read-data", run)
    raw.append(RawFile(member=f"{repo.name}/stats.json", data=stats.output, origin=stats.command))
    return raw


def _by_file(raw_files: Sequence[RawFile], name: str) -> dict[str, RawFile]:
    return {raw.member.removeprefix(f"{name}/"): raw for raw in raw_files}


@dataclass(frozen=True)
class _CheckInput:
    text: str
    exit_code: int
    origin: str
    ran_at: datetime


def _check_input(files: Mapping[str, RawFile], stem: str, now: datetime) -> _CheckInput | None:
    """The check output, its exit code, where the output came from and when the check ran
    (a recorded file's modification time, never later than now; a live check ran now)."""
    if f"{stem}.txt" not in files:
        return None
    exit_file = files[f"{stem}.exitcode"]
    exit_code = parsers.parse_exit_code(_decode(exit_file), exit_file.origin)
    output = files[f"{stem}.txt"]
    produced = output.produced_at
    ran_at = now if produced is None or produced > now else produced
    return _CheckInput(_decode(output), exit_code, output.origin, ran_at)


def gather_restic(repo: ResticRepository, now: datetime) -> Gathered:
    raw_files = _restic_raw_recorded(repo) if repo.recorded is not None else _restic_raw_live(repo)
    files = _by_file(raw_files, repo.name)
    snapshots = files["snapshots.json"]
    checks = []
    for stem in ("check", "check-read-data"):
        check_input = _check_input(files, stem, now)
        if check_input is not None:
            check = parsers.parse_restic_check(check_input.text, check_input.exit_code, stem, check_input.origin)
            checks.append(replace(check, ran_at=check_input.ran_at))
    stats = files.get("stats.json")
    observation = Observation(
        repository=repo.name,
        type="restic",
        location=repo.location,
        mode="recorded" if repo.recorded is not None else "live",
        backups=parsers.parse_restic_snapshots(_decode(snapshots), snapshots.origin),
        checks=checks,
        stats=parsers.parse_restic_stats(_decode(stats), stats.origin) if stats else None,
        sources={raw.member: raw.origin for raw in raw_files},
    )
    return Gathered(observation=observation, raw_files=raw_files)


def _borg_env(repo: BorgRepository) -> dict[str, str]:
    env = _clean_env("BORG_")
    # Unattended: refuse instead of prompting when the repository moved or is unencrypted.
    env["BORG_RELOCATED_REPO_ACCESS_IS_OK"] = "no"
    env["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] = "no"
    if repo.passphrase is not None:
        env["BORG_PASSPHRASE"] = repo.passphrase.get_secret_value()
    elif repo.passphrase_file is not None:
        env["BORG_PASSCOMMAND"] = shlex.join(["cat", str(repo.passphrase_file)])
    return env


def _borg_raw_live(repo: BorgRepository) -> list[RawFile]:
    assert repo.repository is not None
    env = _borg_env(repo)
    program = repo.binary or DEFAULT_PROGRAMS["borg"]
    listing = _run(
        [program, "list", "--json", repo.repository],
        env,
        repo.timeout_seconds,
        merge_stderr=False,
    )
    info = _run(
        [program, "info", "--json", repo.repository],
        env,
        repo.timeout_seconds,
        merge_stderr=False,
    )
    check = _run(
        [program, "check", "--verbose", *(["--verify-data"] if repo.verify_data else []), repo.repository],
        env,
        repo.timeout_seconds,
        merge_stderr=True,
    )
    return [
        RawFile(member=f"{repo.name}/list.json", data=listing.output, origin=listing.command),
        RawFile(member=f"{repo.name}/info.json", data=info.output, origin=info.command),
        *_check_from_run(repo.name, "check", check),
    ]


def _borg_raw_recorded(repo: BorgRepository) -> list[RawFile]:
    assert repo.recorded is not None
    raw = [
        _read(repo.recorded.list, f"{repo.name}/list.json"),
        *_check_files(repo.name, "check", repo.recorded.check),
    ]
    if repo.recorded.info is not None:
        raw.append(_read(repo.recorded.info, f"{repo.name}/info.json"))
    return raw


def gather_borg(repo: BorgRepository, now: datetime) -> Gathered:
    raw_files = _borg_raw_recorded(repo) if repo.recorded is not None else _borg_raw_live(repo)
    files = _by_file(raw_files, repo.name)
    zone = ZoneInfo(repo.timezone)
    listing = files["list.json"]
    info = files.get("info.json")
    check_input = _check_input(files, "check", now)
    assert check_input is not None  # recorded and live borg both always include the check
    check = replace(
        parsers.parse_borg_check(check_input.text, check_input.exit_code, check_input.origin),
        ran_at=check_input.ran_at,
    )
    observation = Observation(
        repository=repo.name,
        type="borg",
        location=repo.location,
        mode="recorded" if repo.recorded is not None else "live",
        backups=parsers.parse_borg_list(_decode(listing), zone, listing.origin),
        checks=[check],
        stats=parsers.parse_borg_info(_decode(info), zone, info.origin).stats if info else None,
        sources={raw.member: raw.origin for raw in raw_files},
    )
    return Gathered(observation=observation, raw_files=raw_files)


def s3_client(location: S3Location) -> Any:
    credentials = {}
    if location.access_key_id is not None and location.secret_access_key is not None:
        credentials = {
            "aws_access_key_id": location.access_key_id,
            "aws_secret_access_key": location.secret_access_key.get_secret_value(),
        }
    config = BotoConfig(
        connect_timeout=location.timeout_seconds,
        read_timeout=location.timeout_seconds,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=location.endpoint_url,
        region_name=location.region_name,
        config=config,
        **credentials,
    )


def _top_level_prefixes(client: Any, bucket: str) -> list[str]:
    prefixes: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/"):
        prefixes += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
    return prefixes


def _objects(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, object]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield {
                "Key": entry["Key"],
                "LastModified": entry["LastModified"].isoformat(),
                "Size": entry["Size"],
                "ETag": entry.get("ETag", ""),
                "StorageClass": entry.get("StorageClass", ""),
            }


def list_s3_prefixes(client: Any, bucket: str, prefixes: Sequence[str]) -> bytes:
    """The listing document for ``bucket``: every object under each prefix, as S3 reported it."""
    try:
        wanted = list(prefixes) or _top_level_prefixes(client, bucket)
        document = {
            "bucket": bucket,
            "prefixes": {prefix: list(_objects(client, bucket, prefix)) for prefix in wanted},
        }
    except (ClientError, BotoCoreError) as exc:
        raise CollectorError(f"s3://{bucket}: listing failed: {exc}") from exc
    return json.dumps(document, indent=2, sort_keys=True).encode()


def gather_s3(location: S3Location) -> Gathered:
    member = f"{location.name}/listing.json"
    if location.recorded_listing is not None:
        raw = _read(location.recorded_listing, member)
    else:
        data = list_s3_prefixes(s3_client(location), location.bucket, location.prefixes)
        raw = RawFile(
            member=member,
            data=data,
            origin=f"s3://{location.bucket} ({location.endpoint_url or 'AWS'})",
        )
    listing = parsers.parse_s3_listing(_decode(raw), raw.origin)
    if listing.bucket != location.bucket:
        raise CollectorError(f"{raw.origin}: lists bucket {listing.bucket!r}, configured {location.bucket!r}")
    observation = Observation(
        repository=location.name,
        type="s3",
        location=location.location,
        mode="recorded" if location.recorded_listing is not None else "live",
        backups=parsers.s3_backups(listing),
        expected_groups=tuple(location.prefixes) or tuple(listing.objects_by_prefix),
        sources={raw.member: raw.origin},
    )
    return Gathered(observation=observation, raw_files=[raw])


def gather(repository: ResticRepository | BorgRepository | S3Location, now: datetime) -> Gathered:
    if isinstance(repository, ResticRepository):
        return gather_restic(repository, now)
    if isinstance(repository, BorgRepository):
        return gather_borg(repository, now)
    return gather_s3(repository)
