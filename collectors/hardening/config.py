"""Configuration of the hardening collector: per host, the Lynis report file to read."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.options import HostPath


class HardeningHost(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    lynis_report: HostPath = Field(
        Path("/var/log/lynis-report.dat"),
        description="The report `lynis audit system` writes (default path of Lynis 3).",
    )


class HardeningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    hosts: list[HardeningHost] = Field(min_length=1)
    minimum_index: int = Field(70, ge=0, le=100, description="Lowest acceptable Lynis hardening index.")
    max_report_age_days: int = Field(
        7, ge=1, description="A report older than this is stale: Lynis did not run recently."
    )

    @model_validator(mode="after")
    def _unique(self) -> HardeningConfig:
        names = [host.name for host in self.hosts]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"host names must be unique: {', '.join(repeated)}")
        return self
