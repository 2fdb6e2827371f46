"""Configuration of the backup collector: which repositories to verify and how to read them.

Every repository is read either from recorded output files (produced on the backup host by a
cron job and shipped to the collector) or live, by running the tool here with a timeout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from collectors.options import HOST, ConfigOrigin, HostPath, HostProgram, confinement_problem

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# What a live check runs (fixed argv, never a shell; REPOSITORY is the validated option).
COMMANDS: dict[str, tuple[str, ...]] = {
    "restic": (
        "restic --repo REPOSITORY snapshots --json",
        "restic --repo REPOSITORY stats --json",
        "restic --repo REPOSITORY check",
        "restic --repo REPOSITORY check --read-data (with read_data: true)",
    ),
    "borg": (
        "borg list --json REPOSITORY",
        "borg info --json REPOSITORY",
        "borg check --verbose REPOSITORY",
    ),
    "s3": ("S3 ListObjectsV2 on the bucket",),
}
DEFAULT_PROGRAMS = {"restic": "restic", "borg": "borg"}

_USER_HOST = r"(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*"
# Remote repositories the web may name. Not rclone: (its connection strings can name a
# program), not local paths (files are for host-managed instances).
_WEB_REPOSITORIES = {
    "restic": re.compile(
        rf"^(?:sftp:(?://)?{_USER_HOST}(?::\d+)?[:/]\S*"
        r"|rest:https?://\S+"
        r"|(?:s3|b2|azure|gs|swift):[A-Za-z0-9]\S*)$"
    ),
    "borg": re.compile(rf"^(?:ssh://{_USER_HOST}(?::\d+)?/\S*|{_USER_HOST}:[^\s/][^\s]*|{_USER_HOST}:/\S*)$"),
}
_LOCAL_REPOSITORY = re.compile(r"^(?:local:|file://)?(/.*)$")


def _checked_repository(tool: str, value: str, info: ValidationInfo) -> str:
    """A repository is a parameter of the declared command, never an option of its own (no
    leading '-'); from the web only a remote one; a local one is a path, confined on the host."""
    if value.startswith("-") or any(character.isspace() or ord(character) < 32 for character in value):
        raise PydanticCustomError("repository", "not a repository location (no leading '-', no spaces)")
    origin = info.context if isinstance(info.context, ConfigOrigin) else None
    if origin is None:
        return value
    local = _LOCAL_REPOSITORY.match(value)
    if origin.origin != HOST:
        if local or not _WEB_REPOSITORIES[tool].match(value):
            raise PydanticCustomError(
                "repository",
                "from the portal only a remote {tool} repository can be named (for example {example}); "
                "a local one is a file path, set in an instance file imported on the host",
                {
                    "tool": tool,
                    "example": "sftp:backup@nas:/srv/restic" if tool == "restic" else "ssh://borg@nas/./db1",
                },
            )
        return value
    if local:
        problem = confinement_problem(Path(local.group(1)), origin)
        if problem:
            raise PydanticCustomError("path_not_allowed", "{problem}", {"problem": problem})
    return value


def _restic_repository(value: str, info: ValidationInfo) -> str:
    return _checked_repository("restic", value, info)


def _borg_repository(value: str, info: ValidationInfo) -> str:
    return _checked_repository("borg", value, info)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckFiles(_Strict):
    output: HostPath  # stdout and stderr of the check, as printed
    exit_code: HostPath  # a file holding the check's exit code


class ResticRecorded(_Strict):
    snapshots: HostPath  # restic snapshots --json
    check: CheckFiles  # restic check
    # restic check --read-data or --read-data-subset; which one ran is read from its output
    check_read_data: CheckFiles | None = None
    stats: HostPath | None = None  # restic stats --json


class BorgRecorded(_Strict):
    list: HostPath  # borg list --json
    info: HostPath | None = None  # borg info --json
    check: CheckFiles  # borg check --verbose [--verify-data]; which one ran is read from its output


class _Repository(_Strict):
    name: str = Field(pattern=_NAME_PATTERN)
    location: str = Field(min_length=1, max_length=100)  # physical site label, e.g. "dc-ams-1"
    timeout_seconds: float = Field(default=3600, gt=0)


def _require_one_source(recorded: object, repository: str | None) -> None:
    if (recorded is None) == (repository is None):
        raise ValueError("set either 'recorded' (output files) or 'repository' (run the tool live)")


class ResticRepository(_Repository):
    type: Literal["restic"]
    recorded: ResticRecorded | None = None
    # restic repository URL, e.g. "sftp:backup@nas:/srv/restic"
    repository: Annotated[str, AfterValidator(_restic_repository)] | None = None
    password: SecretStr | None = None
    password_file: HostPath | None = None
    read_data: bool = False  # also run check --read-data, which downloads every pack
    # also run check --read-data-subset=N/T or =P%: reads part of the data back every run
    read_data_subset: str | None = Field(default=None, pattern=r"^(\d{1,4}/\d{1,4}|\d{1,3}(\.\d+)?%)$")
    binary: HostProgram | None = None  # default: restic on PATH

    @model_validator(mode="after")
    def _live_needs_password(self) -> ResticRepository:
        _require_one_source(self.recorded, self.repository)
        if self.read_data and self.read_data_subset is not None:
            raise ValueError("set at most one of 'read_data' or 'read_data_subset'")
        if self.repository is not None and (self.password is None) == (self.password_file is None):
            raise ValueError("a live restic repository needs exactly one of 'password' or 'password_file'")
        return self


class BorgRepository(_Repository):
    type: Literal["borg"]
    # borg 1.2 prints naive local times; this is the zone of the host that produced them.
    timezone: str = "UTC"
    recorded: BorgRecorded | None = None
    repository: Annotated[str, AfterValidator(_borg_repository)] | None = None  # e.g. "ssh://borg@nas/./db1"
    passphrase: SecretStr | None = None
    passphrase_file: HostPath | None = None
    verify_data: bool = False  # run borg check --verify-data, which reads every chunk back
    binary: HostProgram | None = None  # default: borg on PATH

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _live_passphrase(self) -> BorgRepository:
        _require_one_source(self.recorded, self.repository)
        if self.repository is not None and self.passphrase is not None and self.passphrase_file is not None:
            raise ValueError("set at most one of 'passphrase' or 'passphrase_file'")
        return self


class S3Location(_Repository):
    type: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    # One prefix per backed-up host, e.g. "web1/". Empty: every top-level prefix in the bucket.
    prefixes: list[str] = Field(default_factory=list)
    recorded_listing: HostPath | None = None  # a listing document written by an earlier live run
    endpoint_url: str | None = None  # for MinIO, Ceph or another S3-compatible store
    region_name: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    timeout_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _keys_together(self) -> S3Location:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both 'access_key_id' and 'secret_access_key', or neither")
        return self


Repository = Annotated[ResticRepository | BorgRepository | S3Location, Field(discriminator="type")]


class BackupConfig(_Strict):
    repositories: list[Repository] = Field(min_length=1)
    rpo_hours: float = Field(default=26, gt=0)  # recovery point objective
    restore_test_days: int = Field(default=90, gt=0)
    minimum_locations: int = Field(default=2, ge=1)  # PHY-3: two physically separate sites
    # BCM-1: a check that reads the data back (or a restore test) at least this often; the
    # default is BCM-1's frequency (1 day) plus its grace (1 day).
    data_check_days: int = Field(default=2, gt=0)

    @field_validator("repositories")
    @classmethod
    def _unique_names(cls, repositories: list[Repository]) -> list[Repository]:
        names = [repository.name for repository in repositories]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"repository names must be unique; repeated: {', '.join(duplicates)}")
        return repositories
