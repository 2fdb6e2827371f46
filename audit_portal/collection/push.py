"""Remote push: run a collector on the host it inspects and upload the result to the portal, so
that host needs no database access, only HTTPS and a service token scoped to the instance.

Steps: open a run (``POST /api/v1/collector-runs``), upload each artifact to
``/api/v1/evidence`` (multipart, ``metadata`` part first, the file streamed from memory or disk),
then finish the run with its status, log and findings. A run that failed locally is still
reported, so the portal shows it. Secrets are masked in everything that leaves the host.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import httpx

from audit_portal.clock import utcnow
from audit_portal.collection.secrets import Redactor, secret_values
from audit_portal.collection.service import (
    ARTIFACT_TITLES,
    parse_instance_file,
    validated_config,
)
from audit_portal.errors import InvalidInput
from collectors import registry
from collectors.base import Artifact
from collectors.runner import Outcome, execute

TIMEOUT = httpx.Timeout(60.0, connect=15.0)


class PushFailed(Exception):
    """The portal refused or could not be reached; the message says which step and why."""


@dataclass(frozen=True)
class PushResult:
    run_id: int
    status: str
    uploaded: int


def run_and_push(
    name: str,
    config_text: str,
    *,
    base_url: str,
    token: str,
    client: httpx.Client | None = None,
    now: datetime | None = None,
) -> PushResult:
    specs = {spec.name: spec for spec in parse_instance_file(config_text)}
    if name not in specs:
        raise PushFailed(f"the config file defines no instance {name!r} (it has: {', '.join(sorted(specs))})")
    spec = specs[name]
    try:
        collector = registry.load(spec.collector)
    except registry.UnknownCollector as error:
        raise InvalidInput(str(error)) from None
    # The operator's own file on the host it inspects: the portal's web rules do not apply here.
    config = validated_config(collector, spec.config, None)
    redactor = Redactor(secret_values(config))
    moment = now or utcnow()
    outcome = execute(collector, config, instance_name=name, now=moment, timeout_seconds=spec.timeout_seconds)
    owned = client is None
    http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=TIMEOUT)
    http.headers["Authorization"] = f"Bearer {token}"
    try:
        opened = _post_json(http, "/api/v1/collector-runs", "opening the run", {
            "instance": name, "collector": collector.name, "collector_version": str(collector.version),
            "started_at": outcome.started_at.isoformat(),
        })
        run_id = int(opened["run_id"])
        uploaded = 0
        status, error = outcome.status, outcome.error
        if outcome.ok:
            assert outcome.result is not None
            try:
                for artifact in outcome.result.artifacts:
                    _upload(http, artifact, redactor, name=name, run_id=run_id, started_at=outcome.started_at,
                            requirements=opened.get("requirements", []))
                    uploaded += 1
            except PushFailed as failure:
                status, error = "failed", f"uploading the artifacts failed: {failure}"
        _post_json(http, f"/api/v1/collector-runs/{run_id}/finish", "finishing the run",
                   _finish_body(outcome, status, error, redactor))
        if status == "failed" and outcome.ok:
            raise PushFailed(f"run {run_id}: {error}")
        return PushResult(run_id, status, uploaded)
    finally:
        outcome.discard_workdir()
        if owned:
            http.close()


def _finish_body(outcome: Outcome, status: str, error: str | None, redactor: Redactor) -> dict[str, Any]:
    findings = outcome.result.findings if outcome.result is not None and status == "ok" else []
    return {
        "status": status,
        "finished_at": outcome.finished_at.isoformat(),
        "log": redactor.text(outcome.log),
        "error": redactor.text(error) if error else None,
        "findings": [
            {"key": f.key, "title": redactor.text(f.title), "severity": str(f.severity),
             "detail": redactor.text(f.detail), "subject": f.subject}
            for f in findings
        ],
    }


def _artifact_stream(artifact: Artifact, redactor: Redactor) -> BinaryIO:
    if artifact.path is not None:
        return open(artifact.path, "rb")
    data = artifact.data or b""
    return io.BytesIO(data if artifact.kind == "raw" else redactor.data(data))


def _upload(http: httpx.Client, artifact: Artifact, redactor: Redactor, *, name: str, run_id: int,
            started_at: datetime, requirements: list[str]) -> None:
    metadata = {
        "title": f"{name}: {ARTIFACT_TITLES[artifact.kind]} {started_at:%Y-%m-%d %H:%M} UTC",
        "collected_at": started_at.isoformat(),
        "requirements": requirements,
        "collector_instance": name,
        "collector_run_id": run_id,
        "artifact_kind": artifact.kind,
    }
    with _artifact_stream(artifact, redactor) as stream:
        # httpx writes form fields before files, so the metadata part precedes the file part
        # and the file is read in chunks while it is sent.
        step = f"uploading {artifact.filename}"
        try:
            response = http.post("/api/v1/evidence", data={"metadata": json.dumps(metadata)},
                                 files={"file": (artifact.filename, stream, artifact.content_type)})
        except httpx.HTTPError as error:
            raise PushFailed(f"{step}: {error}") from None
        _check(response, step)


def _post_json(http: httpx.Client, path: str, step: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = http.post(path, json=body)
    except httpx.HTTPError as error:
        raise PushFailed(f"{step}: cannot reach the portal: {error}") from None
    return _check(response, step)


def _check(response: httpx.Response, step: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.text
        except ValueError:
            detail = response.text[:300]
        raise PushFailed(f"{step}: the portal answered {response.status_code}: {detail}")
    return response.json()
