"""Configuration of the backup collector: which repositories to verify and how to read them.

Every repository is read either from recorded output files (produced on the backup host by a
cron job and shipped to the collector) or live, by running the tool here with a timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckFiles(_Strict):
    output: Path  # stdout and stderr of the check, as printed
    exit_code: Path  # a file holding the check's exit code


class ResticRecorded(_Strict):
    snapshots: Path  # restic snapshots --json
    check: CheckFiles  # restic check
    # restic check --read-data or --read-data-subset; which one ran is read from its output
    check_read_data: CheckFiles | None = None
    stats: Path | None = None  # restic stats --json


class BorgRecorded(_Strict):
    list: Path  # borg list --json
    info: Path | None = None  # borg info --json
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
    repository: str | None = None  # restic repository URL, e.g. "sftp:backup@nas:/srv/restic"
    password: SecretStr | None = None
    password_file: Path | None = None
    read_data: bool = False  # also run check --read-data, which downloads every pack
    # also run check --read-data-subset=N/T or =P%: reads part of the data back every run
    read_data_subset: str | None = Field(default=None, pattern=r"^(\d{1,4}/\d{1,4}|\d{1,3}(\.\d+)?%)$")
    binary: str = "restic"

    @model_validator(mode="after")
    def _live_needs_password(self) -> ResticRepository:
        _require_one_source(self.recorded, self.repository)
        if self.read_data and self.read_data_subset is not None:
            raise ValueError("set at most one of 'read_data' or 'read_data_subset'")
        if self.repository is not None and (self.password is None) == (self.password_file is None):
            raise ValueError(
                "a live restic repository needs exactly one of 'password' or 'password_file'"
            )
        return self


class BorgRepository(_Repository):
    type: Literal["borg"]
    # borg 1.2 prints naive local times; this is the zone of the host that produced them.
    timezone: str = "UTC"
    recorded: BorgRecorded | None = None
    repository: str | None = None  # e.g. "ssh://borg@nas/./db1"
    passphrase: SecretStr | None = None
    passphrase_file: Path | None = None
    verify_data: bool = False  # run borg check --verify-data, which reads every chunk back
    binary: str = "borg"

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
        if (
            self.repository is not None
            and self.passphrase is not None
            and self.passphrase_file is not None
        ):
            raise ValueError("set at most one of 'passphrase' or 'passphrase_file'")
        return self


class S3Location(_Repository):
    type: Literal["s3"]
    bucket: str = Field(min_length=3, max_length=63)
    # One prefix per backed-up host, e.g. "web1/". Empty: every top-level prefix in the bucket.
    prefixes: list[str] = Field(default_factory=list)
    recorded_listing: Path | None = None  # a listing document written by an earlier live run
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
