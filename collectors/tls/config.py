"""Configuration of the TLS collector: which endpoints to scan and what the organisation
accepts. Only host names, ports and numbers are configured; nothing is run through a shell."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.options import HostPath

_HOST = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$|^[0-9a-fA-F:.]{2,45}$"


class TlsTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    host: str = Field(pattern=_HOST, max_length=253, description="Host name or IP address to connect to.")
    port: int = Field(443, ge=1, le=65535)
    server_name: str | None = Field(
        None,
        pattern=_HOST,
        max_length=253,
        description="SNI and the name the certificate must match; default host.",
    )
    hsts: bool = Field(True, description="Also request / over HTTPS and check Strict-Transport-Security.")
    recorded: HostPath | None = Field(
        None,
        description="A scan recorded earlier (one endpoint's JSON from a run's raw archive): judged"
        " again instead of connecting (replays, the demo, a push from a host that scanned).",
    )

    @property
    def sni(self) -> str:
        return self.server_name or self.host

    @property
    def label(self) -> str:
        return f"{self.sni}:{self.port}" + (f"@{self.host}" if self.server_name else "")


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    targets: list[TlsTarget] = Field(min_length=1)
    ca_file: HostPath | None = Field(None, description="PEM file of trust anchors; default the system's CA store.")
    expiry_warning_days: int = Field(30, ge=1, le=365)
    min_rsa_bits: int = Field(2048, ge=1024)
    min_ec_bits: int = Field(256, ge=160)
    hsts_min_age_days: int = Field(180, ge=1)
    timeout_seconds: float = Field(10, gt=0, le=120)

    @model_validator(mode="after")
    def _unique(self) -> TlsConfig:
        labels = [target.label for target in self.targets]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"targets listed twice: {', '.join(repeated)}")
        return self
