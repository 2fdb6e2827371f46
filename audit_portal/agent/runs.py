"""Running instances on the host: the instance file (the same YAML as ``audit-portal
collectors import``), which of them are due (cron schedule against the last run, kept in a
small state file), the run itself through ``collectors.runner``, and the spool entry it leaves.
Secret values of the configuration are masked in everything that leaves the host, except the
raw input, which is kept exactly as collected."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr, ValidationError

from audit_portal.agent.spool import Entry, Spool
from collectors import registry
from collectors.runner import execute

MASK = "********"


class AgentError(Exception):
    """Unusable input on the host (instance file, unknown collector, bad config)."""


class InstanceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")
    collector: str
    config: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = None
    enabled: bool = True
    remote: bool = True
    requirements: list[str] | None = None
    timeout_seconds: int = Field(default=600, ge=10, le=86400)


def read_instances(text: str) -> list[InstanceSpec]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise AgentError(f"the instance file is not valid YAML: {error}".splitlines()[0]) from None
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    if not isinstance(data, list) or not data:
        raise AgentError("the instance file must hold a list of collector instances")
    try:
        specs = [InstanceSpec.model_validate(item) for item in data]
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        raise AgentError(f"instance file: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise AgentError("instance names repeat in the file")
    return specs


def _secrets(value: Any) -> list[str]:
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return [secret.decode() if isinstance(secret, bytes) else secret]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in _secrets(getattr(value, name))]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _secrets(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secrets(item)]
    return []


@dataclass
class Masker:
    secrets: list[str] = field(default_factory=list)

    def text(self, value: str) -> str:
        for secret in sorted((s for s in self.secrets if s), key=len, reverse=True):
            value = value.replace(secret, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        for secret in sorted((s for s in self.secrets if s), key=len, reverse=True):
            value = value.replace(secret.encode(), MASK.encode())
        return value


class State:
    """When each instance last ran on this host (for ``--due``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._data = {}
        except ValueError:
            raise AgentError(f"{path} is not a state file the agent wrote") from None

    def last_run(self, name: str) -> datetime | None:
        value = self._data.get(name)
        return datetime.fromisoformat(value) if value else None

    def ran(self, name: str, at: datetime) -> None:
        self._data[name] = at.isoformat()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps(self._data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(staging, self.path)


def due(specs: Iterable[InstanceSpec], state: State, now: datetime) -> list[InstanceSpec]:
    chosen = []
    for spec in specs:
        if not spec.enabled:
            continue
        collector = registry.load(spec.collector)
        schedule = spec.schedule or collector.default_schedule
        last = state.last_run(spec.name)
        if last is None or croniter(schedule, last).get_next(datetime) <= now:
            chosen.append(spec)
    return chosen


def run_to_spool(spec: InstanceSpec, spool: Spool, *, token: str, now: datetime | None = None) -> Entry:
    """Run one instance here and spool the result (a failed run too: the portal shows it)."""
    try:
        collector = registry.load(spec.collector)
    except registry.UnknownCollector as error:
        raise AgentError(str(error)) from None
    try:
        config = collector.Config.model_validate(spec.config)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        raise AgentError(f"{spec.name}: the {collector.name} configuration is not valid: {problems}") from None
    masker = Masker(_secrets(config))
    moment = now or datetime.now(UTC)
    outcome = execute(collector, config, instance_name=spec.name, now=moment, timeout_seconds=spec.timeout_seconds)
    try:
        files: dict[str, Path | bytes] = {}
        artifacts: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        if outcome.ok and outcome.result is not None:
            for artifact in outcome.result.artifacts:
                if artifact.path is not None:  # large raw input: streamed, never held in memory
                    content: Path | bytes = artifact.path
                    size, digest = _file_digest(artifact.path)
                else:
                    data = artifact.data or b""
                    content = data if artifact.kind == "raw" else masker.data(data)
                    size, digest = len(content), hashlib.sha256(content).hexdigest()
                files[artifact.filename] = content
                artifacts.append(
                    {
                        "kind": artifact.kind,
                        "filename": artifact.filename,
                        "content_type": artifact.content_type,
                        "size": size,
                        "sha256": digest,
                    }
                )
            findings = [
                {
                    "key": f.key,
                    "title": masker.text(f.title),
                    "severity": str(f.severity),
                    "detail": masker.text(f.detail),
                    "subject": f.subject,
                }
                for f in outcome.result.findings
            ]
        manifest = {
            "instance": spec.name,
            "collector": collector.name,
            "collector_version": str(collector.version),
            "started_at": outcome.started_at.isoformat(),
            "finished_at": outcome.finished_at.isoformat(),
            "status": outcome.status,
            "error": masker.text(outcome.error) if outcome.error else None,
            "log": masker.text(outcome.log),
            "findings": findings,
            "artifacts": artifacts,
        }
        return spool.add(manifest, files, token=token)
    finally:
        outcome.discard_workdir()


def _file_digest(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
