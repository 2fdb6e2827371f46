"""What the remote-run API takes and answers."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RemoteRunStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance: str = Field(max_length=100)
    collector: str = Field(max_length=64, description="The plugin that runs; must match the instance's.")
    collector_version: str = Field(default="", max_length=64)
    started_at: datetime


class RemoteFinding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=300)
    title: str = Field(min_length=1, max_length=300)
    severity: Literal["info", "low", "medium", "high", "critical"]
    detail: str = Field(default="", max_length=20_000)
    subject: str = Field(default="", max_length=300)


class RemoteRunFinish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "failed", "timed_out"]
    finished_at: datetime
    log: str = Field(default="", max_length=500_000)
    error: str | None = Field(default=None, max_length=20_000)
    findings: list[RemoteFinding] = Field(default_factory=list, max_length=10_000)


class RemoteRunOpened(BaseModel):
    run_id: int
    instance: str
    status: str
    requirements: list[str] = Field(description="Requirement keys to put in each artifact's metadata.")
