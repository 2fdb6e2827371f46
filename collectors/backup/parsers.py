"""Pure parsers for restic, borg and S3 listing output.

Each parser takes the text exactly as the tool printed it plus ``source`` (the file name or
command it came from, used in error messages) and returns typed values. They never read files
or run commands; :mod:`collectors.backup.sources` does that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from collectors.base import CollectorError

CheckStatus = Literal["ok", "failed", "data-errors"]


@dataclass(frozen=True)
class Backup:
    """One completed backup: a restic snapshot, a borg archive or an S3 object."""

    id: str
    time: datetime  # always timezone-aware
    group: str  # what staleness is judged per: restic host, "archives" for borg, S3 prefix
    label: str


CheckScope = Literal["structure", "data-subset", "data"]


@dataclass(frozen=True)
class CheckResult:
    kind: str  # "check" or "check-read-data": which recorded output or command it came from
    exit_code: int
    status: CheckStatus
    messages: tuple[str, ...]  # the lines that explain a failure; empty when ok
    # What the check looked at, read from the tool's own output rather than from where the
    # file was configured: "structure" (restic check, borg check), "data-subset"
    # (restic --read-data-subset) or "data" (restic --read-data, borg --verify-data).
    scope: CheckScope = "structure"
    packs_read: int | None = None  # restic's data-reading checks: packs read back
    ran_at: datetime | None = None  # when the check ran, if known (set by the sources)

    @property
    def reads_data(self) -> bool:
        """True when the check read backed-up data back, which is what proves it restorable;
        a structural check only proves the repository's index and trees are consistent."""
        return self.scope != "structure" and self.packs_read != 0


@dataclass(frozen=True)
class RepositoryStats:
    total_size: int
    file_or_chunk_count: int
    detail: dict[str, int]


@dataclass(frozen=True)
class BorgInfo:
    repository_id: str
    last_modified: datetime
    stats: RepositoryStats


@dataclass(frozen=True)
class S3Object:
    key: str
    last_modified: datetime
    size: int


@dataclass(frozen=True)
class S3Listing:
    bucket: str
    objects_by_prefix: dict[str, tuple[S3Object, ...]]


def _load_json(text: str, source: str) -> Any:
    if not text.strip():
        raise CollectorError(f"{source}: empty input, expected JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); the file may be truncated"
        ) from exc


def _aware_time(value: Any, source: str, what: str, naive_zone: tzinfo | None = None) -> datetime:
    if not isinstance(value, str):
        raise CollectorError(f"{source}: {what} is missing or not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CollectorError(f"{source}: {what} {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        if naive_zone is None:
            raise CollectorError(f"{source}: {what} {value!r} has no time zone")
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed


def _require(mapping: dict[str, Any], key: str, kind: type, source: str, what: str) -> Any:
    value = mapping.get(key)
    # bool is an int subclass; a size of ``true`` is corrupt input, not 1 byte
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CollectorError(f"{source}: {what} has no {kind.__name__} field {key!r}")
    return value


def parse_exit_code(text: str, source: str) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"\d{1,3}", stripped) or int(stripped) > 255:
        raise CollectorError(f"{source}: expected a process exit code (0-255), got {stripped[:40]!r}")
    return int(stripped)


def parse_restic_snapshots(text: str, source: str = "restic snapshots --json") -> list[Backup]:
    data = _load_json(text, source)
    if not isinstance(data, list):
        raise CollectorError(f"{source}: expected a JSON list of snapshots, got {type(data).__name__}")
    backups = []
    for index, item in enumerate(data):
        what = f"snapshot #{index}"
        if not isinstance(item, dict):
            raise CollectorError(f"{source}: {what} is not an object")
        snapshot_id = _require(item, "id", str, source, what)
        hostname = _require(item, "hostname", str, source, what)
        paths = item.get("paths") or []
        backups.append(
            Backup(
                id=snapshot_id,
                time=_aware_time(item.get("time"), source, f"{what} time"),
                group=hostname,
                label=f"{item.get('short_id', snapshot_id[:8])} {' '.join(map(str, paths))}".strip(),
            )
        )
    return backups


# restic prints this as its last line whenever the check itself found damage; other "Fatal:"
# lines (wrong password, lock held, repository missing) mean the check could not run at all.
_RESTIC_DAMAGE_MARKER = "Fatal: repository contains errors"
_RESTIC_SUCCESS_MARKER = "no errors were found"
_RESTIC_NOISE = re.compile(
    r"^(using temporary cache|create exclusive lock|load indexes|check all packs|"
    r"check snapshots, trees and blobs|read all data|read group|\[\d+:\d+\]|$)"
)


def parse_restic_check(text: str, exit_code: int, kind: str, source: str = "restic check") -> CheckResult:
    if not text.strip():
        raise CollectorError(f"{source}: empty check output")
    lines = [line.rstrip() for line in text.splitlines()]
    scope, packs = _restic_check_scope(lines)
    if exit_code == 0:
        if not any(_RESTIC_SUCCESS_MARKER in line for line in lines):
            raise CollectorError(
                f"{source}: exit code 0 but no {_RESTIC_SUCCESS_MARKER!r} line; the output may be truncated"
            )
        return CheckResult(kind=kind, exit_code=0, status="ok", messages=(), scope=scope, packs_read=packs)
    messages = tuple(line for line in lines if not _RESTIC_NOISE.match(line))
    status: CheckStatus = "data-errors" if _RESTIC_DAMAGE_MARKER in text else "failed"
    return CheckResult(
        kind=kind,
        exit_code=exit_code,
        status=status,
        messages=messages,
        scope=scope,
        packs_read=packs,
    )


# "read all data" (--read-data), and "read group #1 of 4 data packs (out of total 12 packs in
# 3 groups)" or "read 50.0% of data packs" (--read-data-subset=n/t or =p%) are the lines
# restic prints before reading packs back; the progress line after them counts the packs.
_RESTIC_READ_ALL = "read all data"
_RESTIC_READ_SUBSET = re.compile(r"^read (?:group #\d+ of (?P<packs>\d+) data packs|[\d.]+% of data packs|subset)")
_RESTIC_PACKS_DONE = re.compile(r"^\[[\d:]+\]\s+(?:[\d.]+%\s+)?(?P<done>\d+)(?: / \d+)? packs")


def _restic_check_scope(lines: list[str]) -> tuple[CheckScope, int | None]:
    for index, line in enumerate(lines):
        subset = _RESTIC_READ_SUBSET.match(line)
        if line == _RESTIC_READ_ALL or subset:
            scope: CheckScope = "data" if subset is None else "data-subset"
            packs = int(subset["packs"]) if subset and subset["packs"] else None
            for later in lines[index + 1 :]:
                done = _RESTIC_PACKS_DONE.match(later)
                if done:
                    packs = int(done["done"])
                    break
            return scope, packs
    return "structure", None


def parse_restic_stats(text: str, source: str = "restic stats --json") -> RepositoryStats:
    data = _load_json(text, source)
    if not isinstance(data, dict):
        raise CollectorError(f"{source}: expected a JSON object")
    detail = {key: _require(data, key, int, source, "stats") for key in ("total_size", "total_file_count")}
    if isinstance(data.get("snapshots_count"), int):
        detail["snapshots_count"] = data["snapshots_count"]
    return RepositoryStats(
        total_size=detail["total_size"],
        file_or_chunk_count=detail["total_file_count"],
        detail=detail,
    )


def parse_borg_list(text: str, naive_zone: tzinfo, source: str = "borg list --json") -> list[Backup]:
    """Archives of a borg repository. borg 1.2 prints naive local times, so the caller says
    which zone the repository host runs in. Checkpoint archives are interrupted backups and
    are left out: they are not a successful backup."""
    data = _load_json(text, source)
    archives = data.get("archives") if isinstance(data, dict) else None
    if not isinstance(archives, list):
        raise CollectorError(f"{source}: expected an object with an 'archives' list")
    backups = []
    for index, item in enumerate(archives):
        what = f"archive #{index}"
        if not isinstance(item, dict):
            raise CollectorError(f"{source}: {what} is not an object")
        name = _require(item, "name", str, source, what)
        if name.endswith(".checkpoint") or re.search(r"\.checkpoint\.\d+$", name):
            continue
        backups.append(
            Backup(
                id=_require(item, "id", str, source, what),
                time=_aware_time(item.get("start"), source, f"{what} start", naive_zone),
                group="archives",
                label=name,
            )
        )
    return backups


def parse_borg_info(text: str, naive_zone: tzinfo, source: str = "borg info --json") -> BorgInfo:
    data = _load_json(text, source)
    if not isinstance(data, dict):
        raise CollectorError(f"{source}: expected a JSON object")
    repository = data.get("repository")
    stats = (data.get("cache") or {}).get("stats") if isinstance(data.get("cache"), dict) else None
    if not isinstance(repository, dict) or not isinstance(stats, dict):
        raise CollectorError(f"{source}: expected 'repository' and 'cache.stats' objects")
    detail = {
        key: _require(stats, key, int, source, "cache.stats")
        for key in (
            "total_size",
            "total_csize",
            "unique_csize",
            "total_chunks",
            "total_unique_chunks",
        )
    }
    return BorgInfo(
        repository_id=_require(repository, "id", str, source, "repository"),
        last_modified=_aware_time(repository.get("last_modified"), source, "repository last_modified", naive_zone),
        stats=RepositoryStats(
            total_size=detail["total_size"],
            file_or_chunk_count=detail["total_unique_chunks"],
            detail=detail,
        ),
    )


# Lines borg check prints when it finds damage, as opposed to failing to open the repository.
_BORG_DAMAGE = re.compile(
    r"errors found|integrity error|checksum mismatch|count mismatch|crc mismatch|orphaned objects|"
    r"missing (segment|file chunk|object|archive|chunk)|points to missing|damaged|manifest not found",
    re.IGNORECASE,
)


_BORG_COMPLETE = re.compile(r"(check|check complete), no problems found\.$")
_BORG_VERIFY_DATA = "Starting cryptographic data integrity verification"
# Each part borg check --verbose starts, and the line it prints when that part completes.
_BORG_PARTS = (
    ("Starting repository check", "Finished full repository check"),
    ("Starting archive consistency check", "Archive consistency check complete"),
    (_BORG_VERIFY_DATA, "Finished cryptographic data integrity verification"),
)


def parse_borg_check(text: str, exit_code: int, source: str = "borg check", kind: str = "check") -> CheckResult:
    """borg check exits 0 when the repository and archives are consistent (it prints nothing
    without --verbose), 1 when it found problems, 2 when it could not check at all. Only
    ``--verify-data`` reads the archives' data back (it prints a "cryptographic data integrity
    verification" line); without it the check is structural."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    scope: CheckScope = "data" if any(_BORG_VERIFY_DATA in line for line in lines) else "structure"
    if exit_code == 0:
        # With --verbose (which the collector always uses, and which recorded output must
        # use) borg ends each part it checked with a "no problems found" line; exit 0
        # without one is output cut off or a check that was never run.
        unfinished = [
            started
            for started, finished in _BORG_PARTS
            if any(line.startswith(started) for line in lines) and not any(line.startswith(finished) for line in lines)
        ]
        if not any(_BORG_COMPLETE.search(line) for line in lines) or unfinished:
            raise CollectorError(
                f"{source}: exit code 0 but no 'check complete, no problems found' line"
                + (f" after {unfinished[0]!r}" if unfinished else "")
                + "; the output is empty or truncated (record it with borg check --verbose)"
            )
        return CheckResult(kind=kind, exit_code=0, status="ok", messages=(), scope=scope)
    damage = [line for line in lines if _BORG_DAMAGE.search(line)]
    status: CheckStatus = "data-errors" if damage else "failed"
    messages = tuple(damage or lines)
    return CheckResult(kind=kind, exit_code=exit_code, status=status, messages=messages, scope=scope)


def parse_s3_listing(text: str, source: str = "s3 listing") -> S3Listing:
    """The listing document written by :func:`collectors.backup.sources.list_s3_prefixes`:
    ``{"bucket": ..., "prefixes": {prefix: [{"Key", "LastModified", "Size"}, ...]}}``."""
    data = _load_json(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("prefixes"), dict):
        raise CollectorError(f"{source}: expected an object with a 'prefixes' object")
    bucket = _require(data, "bucket", str, source, "listing")
    objects_by_prefix = {}
    for prefix, entries in data["prefixes"].items():
        if not isinstance(entries, list):
            raise CollectorError(f"{source}: prefix {prefix!r} does not hold a list of objects")
        objects = []
        for index, entry in enumerate(entries):
            what = f"object #{index} under {prefix!r}"
            if not isinstance(entry, dict):
                raise CollectorError(f"{source}: {what} is not an object")
            objects.append(
                S3Object(
                    key=_require(entry, "Key", str, source, what),
                    last_modified=_aware_time(entry.get("LastModified"), source, f"{what} LastModified"),
                    size=_require(entry, "Size", int, source, what),
                )
            )
        objects_by_prefix[prefix] = tuple(objects)
    return S3Listing(bucket=bucket, objects_by_prefix=objects_by_prefix)


def s3_backups(listing: S3Listing) -> list[Backup]:
    return [
        Backup(id=obj.key, time=obj.last_modified, group=prefix, label=obj.key)
        for prefix, objects in listing.objects_by_prefix.items()
        for obj in objects
    ]


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
