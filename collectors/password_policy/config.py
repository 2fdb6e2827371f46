"""Configuration of the password-policy collector: the organisation's password standard and
the systems to compare with it. Systems are read from files (copied from the host, or on this
host) or from the IAM API; no command runs and nothing goes through a shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from collectors.options import HostPath

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Standard(_Strict):
    """The organisation's password standard; ``None`` leaves a setting unjudged."""

    min_length: int = Field(default=12, ge=1, le=128)
    history: int | None = Field(default=5, ge=0, le=50, description="Previous passwords that may not be reused.")
    lockout_threshold: int | None = Field(
        default=10, ge=1, le=100, description="Failed log-ons after which the account is locked (at most)."
    )
    lockout_minutes: int | None = Field(default=15, ge=1, description="Minimum time an account stays locked.")
    max_age_days: int | None = Field(
        default=None, ge=1, description="Passwords must expire within this; unset: no expiry required."
    )
    min_classes: int | None = Field(default=None, ge=1, le=4, description="Character classes required.")


class LinuxSystem(_Strict):
    type: Literal["linux"]
    name: str = Field(pattern=_NAME)
    login_defs: HostPath = Path("/etc/login.defs")
    pam_password: HostPath = Path("/etc/pam.d/common-password")
    pam_auth: HostPath = Path("/etc/pam.d/common-auth")
    pwquality_conf: HostPath = Path("/etc/security/pwquality.conf")
    faillock_conf: HostPath = Path("/etc/security/faillock.conf")


class AwsAccount(_Strict):
    type: Literal["aws"]
    name: str = Field(pattern=_NAME)
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    timeout_seconds: float = Field(30, gt=0)

    @model_validator(mode="after")
    def _keys_together(self) -> AwsAccount:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither")
        return self


class WindowsSystem(_Strict):
    type: Literal["windows"]
    name: str = Field(pattern=_NAME)
    net_accounts: HostPath | None = Field(None, description="Output of `net accounts`.")
    secedit: HostPath | None = Field(None, description="File written by `secedit /export /cfg FILE`.")

    @model_validator(mode="after")
    def _one_input(self) -> WindowsSystem:
        if self.net_accounts is None and self.secedit is None:
            raise ValueError("give net_accounts, secedit or both")
        return self


System = Annotated[LinuxSystem | AwsAccount | WindowsSystem, Field(discriminator="type")]


class PasswordPolicyConfig(_Strict):
    standard: Standard = Field(default_factory=lambda: Standard())
    systems: list[System] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PasswordPolicyConfig:
        names = [system.name for system in self.systems]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"system names must be unique: {', '.join(repeated)}")
        return self
