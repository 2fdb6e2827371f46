"""Configuration of the accounts collector: the organisation's people (who owns which
account), the review thresholds, and the systems to read. Linux systems are read from files
(getent/lastlog/sshd -T output written on the host, or the host's own files); AWS through IAM.
No command line is configurable and nothing runs through a shell."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from collectors.options import HostPath

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ACCOUNT = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63}:)?[A-Za-z0-9_.@+=,-][A-Za-z0-9_.@+=,$-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Person(_Strict):
    name: str = Field(min_length=1, max_length=100)
    accounts: list[str] = Field(
        default_factory=list,
        description="Accounts this person owns: `login` on every system, or `system:login`.",
    )
    left_on: date | None = Field(None, description="Date the person left; their accounts must be gone.")

    @model_validator(mode="after")
    def _accounts(self) -> Person:
        for account in self.accounts:
            if not re.fullmatch(_ACCOUNT, account):
                raise ValueError(f"{account!r} is not an account name (login or system:login)")
        return self


class ServiceAccount(_Strict):
    account: str = Field(pattern=_ACCOUNT)
    owner: str = Field(min_length=1, max_length=100, description="The person responsible for it.")
    purpose: str = Field("", max_length=200)


class LinuxSystem(_Strict):
    type: Literal["linux"]
    name: str = Field(pattern=_NAME)
    passwd: HostPath = Field(Path("/etc/passwd"), description="`getent passwd` output or the passwd file.")
    group: HostPath = Field(Path("/etc/group"), description="`getent group` output or the group file.")
    shadow: HostPath = Field(Path("/etc/shadow"), description="The shadow file; hashes are never stored.")
    lastlog: HostPath = Field(description="Output of `lastlog` (LC_ALL=C), written on the host.")
    sudoers: list[HostPath] = Field(default_factory=lambda: [Path("/etc/sudoers")])
    sshd_effective: HostPath | None = Field(None, description="Output of `sshd -T`, written on the host.")
    min_uid: int = Field(1000, ge=0, description="Accounts below this uid (except 0) are system accounts.")


class AwsAccount(_Strict):
    type: Literal["aws"]
    name: str = Field(pattern=_NAME)
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    admin_policies: list[str] = Field(
        default_factory=lambda: ["arn:aws:iam::aws:policy/AdministratorAccess"],
        description="Policies that make a user an administrator (attached directly or via a group).",
    )
    timeout_seconds: float = Field(30, gt=0)

    @model_validator(mode="after")
    def _keys_together(self) -> AwsAccount:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither")
        return self


System = Annotated[LinuxSystem | AwsAccount, Field(discriminator="type")]


class AccountsConfig(_Strict):
    people: list[Person] = Field(default_factory=list)
    service_accounts: list[ServiceAccount] = Field(default_factory=list)
    shared_accounts: list[str] = Field(
        default_factory=list, description="Logins several people use; each is a finding while it can log in."
    )
    dormant_days: int = Field(90, ge=1)
    key_max_age_days: int = Field(90, ge=1)
    systems: list[System] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> AccountsConfig:
        names = [system.name for system in self.systems]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"system names must be unique: {', '.join(repeated)}")
        return self
