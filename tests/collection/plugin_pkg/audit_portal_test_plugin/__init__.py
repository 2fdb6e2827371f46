"""Third-party collectors for the collection tests: one that works, and ones that misbehave."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from collectors.base import (
    Artifact,
    CollectContext,
    CollectorError,
    CollectResult,
    FindingDraft,
    Severity,
)
from collectors.options import HostPath


class TinyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = []  # each item becomes a finding keyed by its text
    token: SecretStr | None = None
    echo_token: bool = False  # writes the token into log and report, as a careless plugin would


class TinyCollector:
    name: ClassVar[str] = "tiny"
    version: ClassVar[str] = "0.1.0"
    Config: ClassVar[type[BaseModel]] = TinyConfig
    default_schedule: ClassVar[str] = "0 6 * * *"
    requirements: ClassVar[tuple[str, ...]] = ("COM-1/firewall-review",)

    def collect(self, ctx: CollectContext) -> CollectResult:
        config: TinyConfig = ctx.config
        secret = config.token.get_secret_value() if config.token else ""
        if config.echo_token:
            ctx.log.info("using token %s", secret)
        raw_path = ctx.workdir / "raw.txt"
        raw_path.write_text("\n".join(config.items) + "\n")
        normalised = {"items": config.items, "previous_items": (ctx.previous or {}).get("items")}
        report = (
            f"<html><body><p>{len(config.items)} items</p><p>{secret if config.echo_token else ''}</p></body></html>"
        )
        return CollectResult(
            normalised=normalised,
            artifacts=[
                Artifact("raw.txt", "raw", "text/plain", path=raw_path),
                Artifact("normalised.json", "normalised", "application/json", data=json.dumps(normalised).encode()),
                Artifact("report.html", "report", "text/html", data=report.encode()),
            ],
            findings=[
                FindingDraft(key=f"item:{item}", title=f"Item {item} present", severity=Severity.high)
                for item in config.items
            ],
        )


class WaitingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release_file: HostPath  # collect() waits until this file exists
    wait_seconds: float = 60


class WaitingCollector(TinyCollector):
    name: ClassVar[str] = "waiting"
    Config: ClassVar[type[BaseModel]] = WaitingConfig  # type: ignore[assignment]

    def collect(self, ctx: CollectContext) -> CollectResult:
        deadline = time.monotonic() + ctx.config.wait_seconds
        while not ctx.config.release_file.exists():
            if time.monotonic() > deadline:
                raise CollectorError("the release file never appeared")
            time.sleep(0.05)
        ctx.config = TinyConfig(items=["waited"])
        return super().collect(ctx)


class RaisingCollector(TinyCollector):
    name: ClassVar[str] = "raising"
    Config: ClassVar[type[BaseModel]] = TinyConfig

    def collect(self, ctx: CollectContext) -> CollectResult:
        raise RuntimeError("disk on fire")


HANG_RELEASE = threading.Event()


class HangingCollector(TinyCollector):
    name: ClassVar[str] = "hanging"
    Config: ClassVar[type[BaseModel]] = TinyConfig

    def collect(self, ctx: CollectContext) -> CollectResult:
        HANG_RELEASE.wait(600)  # the test sets it afterwards so the abandoned thread ends
        return super().collect(ctx)


class GarbageCollector(TinyCollector):
    name: ClassVar[str] = "garbage"
    Config: ClassVar[type[BaseModel]] = TinyConfig

    def collect(self, ctx: CollectContext) -> Any:
        return {"normalised": "not a CollectResult"}
