"""Delivering spooled runs to the portal's push API: open the run with the manifest and its
seal, upload each artifact, finish the run. Interrupted deliveries resume: the portal answers
an open with a known nonce and the same content with the run it already has (and which
artifacts it holds), as long as that run is unfinished."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from audit_portal.agent.spool import Entry, Spool

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
ARTIFACT_TITLES = {"raw": "raw input", "normalised": "normalised result", "report": "report"}


class PortalUnreachable(Exception):
    """Could not talk to the portal (down, network, 5xx): keep the entry and try again later."""


class PushRefused(Exception):
    """The portal refused the push for good (4xx): retrying the same push cannot help."""


@dataclass(frozen=True)
class Delivered:
    instance: str
    run_id: int
    status: str
    uploaded: int


def _request(http: httpx.Client, step: str, path: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = http.post(path, **kwargs)
    except httpx.HTTPError as error:
        raise PortalUnreachable(f"{step}: cannot reach the portal: {error}") from None
    if response.status_code >= 500:
        raise PortalUnreachable(f"{step}: the portal answered {response.status_code}")
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.text
        except ValueError:
            detail = response.text[:300]
        raise PushRefused(f"{step}: the portal answered {response.status_code}: {detail}")
    return response.json()


def deliver(http: httpx.Client, entry: Entry) -> Delivered:
    manifest, sealed = entry.manifest, entry.seal
    opened = _request(
        http,
        "opening the run",
        "/api/v1/collector-runs",
        json={
            "instance": manifest["instance"],
            "collector": manifest["collector"],
            "collector_version": manifest["collector_version"],
            "started_at": manifest["started_at"],
            "seal": {**sealed, "manifest": manifest},
        },
    )
    run_id = int(opened["run_id"])
    present = set(opened.get("artifacts_received") or ())
    uploaded = 0
    for artifact in manifest["artifacts"]:
        if artifact["kind"] in present:
            continue
        metadata = {
            "title": f"{manifest['instance']}: {ARTIFACT_TITLES.get(artifact['kind'], artifact['kind'])} "
            f"{manifest['started_at'][:16].replace('T', ' ')} UTC",
            "collected_at": manifest["started_at"],
            "requirements": opened.get("requirements", []),
            "collector_instance": manifest["instance"],
            "collector_run_id": run_id,
            "artifact_kind": artifact["kind"],
        }
        with entry.artifact_path(artifact["filename"]).open("rb") as stream:
            _request(
                http,
                f"uploading {artifact['filename']}",
                "/api/v1/evidence",
                data={"metadata": json.dumps(metadata)},
                files={"file": (artifact["filename"], stream, artifact["content_type"])},
            )
        uploaded += 1
    finished = _request(
        http,
        "finishing the run",
        f"/api/v1/collector-runs/{run_id}/finish",
        json={
            "status": manifest["status"],
            "finished_at": manifest["finished_at"],
            "log": manifest["log"],
            "error": manifest["error"],
            "findings": manifest["findings"],
        },
    )
    return Delivered(manifest["instance"], run_id, str(finished.get("status", manifest["status"])), uploaded)


@dataclass
class Drained:
    delivered: list[Delivered]
    rejected: list[str]
    waiting: int
    unreachable: str | None


def drain(spool: Spool, base_url: str, token: str, client: httpx.Client | None = None) -> Drained:
    """Deliver every spooled entry, oldest first. Stops at the first unreachable portal (the
    rest stay spooled, in order); a refused entry is set aside and the next one tried."""
    http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=TIMEOUT)
    http.headers["Authorization"] = f"Bearer {token}"
    result = Drained([], [], 0, None)
    try:
        entries = spool.entries()
        for index, entry in enumerate(entries):
            try:
                result.delivered.append(deliver(http, entry))
            except PortalUnreachable as error:
                result.unreachable = str(error)
                result.waiting = len(entries) - index
                break
            except PushRefused as error:
                spool.reject(entry, str(error))
                result.rejected.append(f"{entry.path.name}: {error}")
                continue
            spool.done(entry)
    finally:
        if client is None:
            http.close()
    return result
