"""What the remote-run API takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PushSeal(BaseModel):
    """What makes a replayed or altered push recognisable (see ``audit_portal.agent.seal``)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["push-v1"]
    push_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="A random nonce; the portal accepts it once.")
    signed_at: str = Field(max_length=40)
    content_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 under the token's SHA-256.")
    manifest: dict[str, Any] = Field(description="The whole run: times, status, log, findings, artifacts' digests.")


class ManifestArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["raw", "normalised", "report"]
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(max_length=255)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RemoteRunStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance: str = Field(max_length=100)
    collector: str = Field(max_length=64, description="The plugin that runs; must match the instance's.")
    collector_version: str = Field(default="", max_length=64)
    started_at: datetime
    seal: PushSeal


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


class PushManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance: str = Field(max_length=100)
    collector: str = Field(max_length=64)
    collector_version: str = Field(max_length=64)
    started_at: str = Field(max_length=40)
    finished_at: str = Field(max_length=40)
    status: Literal["ok", "failed", "timed_out"]
    error: str | None = Field(default=None, max_length=20_000)
    log: str = Field(max_length=500_000)
    findings: list[RemoteFinding] = Field(max_length=10_000)
    artifacts: list[ManifestArtifact] = Field(max_length=3)


class RemoteRunOpened(BaseModel):
    run_id: int
    instance: str
    status: str
    requirements: list[str] = Field(description="Requirement keys to put in each artifact's metadata.")
    artifacts_received: list[str] = Field(
        default_factory=list, description="Artifact kinds the portal already holds (a resumed push)."
    )
