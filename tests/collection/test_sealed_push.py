"""Sealed pushes: the portal refuses a replayed or altered push, an interrupted push resumes,
and the agent's spool keeps runs while the portal cannot be reached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from audit_portal.agent import deliver, runs
from audit_portal.agent.spool import Spool
from audit_portal.collection.models import CollectorRun
from audit_portal.evidence.models import Evidence
from tests.collection.test_push import REMOTE_FILE, remote_instance, sealed_open, token_for  # noqa: F401

pytestmark = pytest.mark.usefixtures("plugin_path", "catalogue")


def spooled(tmp_path: Path, token: str) -> tuple[Spool, runs.InstanceSpec]:
    spool = Spool(tmp_path / "spool")
    [spec] = runs.read_instances(REMOTE_FILE)
    runs.run_to_spool(spec, spool, token=token)
    return spool, spec


def open_body(entry) -> dict:  # type: ignore[no-untyped-def]
    manifest = entry.manifest
    return {
        "instance": manifest["instance"],
        "collector": manifest["collector"],
        "collector_version": manifest["collector_version"],
        "started_at": manifest["started_at"],
        "seal": {**entry.seal, "manifest": manifest},
    }


def test_a_delivered_push_cannot_be_replayed(session, client, remote_instance, tmp_path):
    token = token_for(session, "edge-remote")
    spool, _ = spooled(tmp_path, token)
    [entry] = spool.entries()
    body = open_body(entry)
    drained = deliver.drain(spool, "http://testserver", token, client=client)
    assert [d.status for d in drained.delivered] == ["ok"] and spool.entries() == []
    replay = client.post("/api/v1/collector-runs", json=body)
    assert replay.status_code == 409 and "replayed push is refused" in replay.json()["detail"]
    assert len(session.exec(select(CollectorRun)).all()) == 1


@pytest.mark.parametrize("alter", ["log", "findings", "status", "instance-in-manifest"])
def test_an_altered_manifest_is_refused(session, client, remote_instance, tmp_path, alter):
    token = token_for(session, "edge-remote")
    client.headers["Authorization"] = f"Bearer {token}"
    spool, _ = spooled(tmp_path, token)
    body = open_body(spool.entries()[0])
    manifest = body["seal"]["manifest"]
    if alter == "log":
        manifest["log"] += "\nall good"
    elif alter == "findings":
        manifest["findings"] = []
    elif alter == "status":
        manifest["status"] = "failed"
    else:
        manifest["instance"] = "other"
    refused = client.post("/api/v1/collector-runs", json=body)
    assert refused.status_code == 422 and "seal does not match" in refused.json()["detail"]
    assert session.exec(select(CollectorRun)).all() == []


def test_a_seal_made_with_another_token_is_refused(session, client, remote_instance, tmp_path):
    token = token_for(session, "edge-remote")
    client.headers["Authorization"] = f"Bearer {token}"
    body = sealed_open(token_for(session, "edge-remote"), "edge-remote", "tiny")
    refused = client.post("/api/v1/collector-runs", json=body)
    assert refused.status_code == 422 and "another token" in refused.json()["detail"]


def test_an_altered_artifact_or_finish_is_refused_and_the_push_resumes(session, client, remote_instance, tmp_path):
    token = token_for(session, "edge-remote")
    client.headers["Authorization"] = f"Bearer {token}"
    spool, _ = spooled(tmp_path, token)
    [entry] = spool.entries()
    body = open_body(entry)
    opened = client.post("/api/v1/collector-runs", json=body)
    assert opened.status_code == 201
    run_id = opened.json()["run_id"]
    report = next(a for a in entry.manifest["artifacts"] if a["kind"] == "report")
    metadata = {
        "title": "report",
        "collected_at": entry.manifest["started_at"],
        "requirements": [],
        "collector_instance": "edge-remote",
        "collector_run_id": run_id,
        "artifact_kind": "report",
    }
    tampered = entry.artifact_path(report["filename"]).read_bytes().replace(b"2 items", b"0 items")
    assert hashlib.sha256(tampered).hexdigest() != report["sha256"]
    refused = client.post(
        "/api/v1/evidence",
        data={"metadata": json.dumps(metadata)},
        files={"file": (report["filename"], tampered, "text/html")},
    )
    assert refused.status_code == 422 and "differs from the one the push was sealed with" in refused.json()["detail"]
    assert session.exec(select(Evidence).where(Evidence.collector_run_id == run_id)).all() == []

    # the same push again while its run is open: the portal resumes it instead of opening another
    again = client.post("/api/v1/collector-runs", json=body)
    assert (again.status_code, again.json()["run_id"], again.json()["artifacts_received"]) == (201, run_id, [])
    finish = {
        "status": "ok",
        "finished_at": entry.manifest["finished_at"],
        "log": entry.manifest["log"],
        "error": None,
        "findings": entry.manifest["findings"][:1],
    }
    assert client.post(f"/api/v1/collector-runs/{run_id}/finish", json=finish).status_code == 422

    delivered = deliver.deliver(client, entry)
    assert (delivered.run_id, delivered.status, delivered.uploaded) == (run_id, "ok", 3)
    assert session.get(CollectorRun, run_id).findings_count == 2


def test_the_spool_keeps_runs_while_the_portal_is_down(session, client, remote_instance, tmp_path):
    token = token_for(session, "edge-remote")
    spool, spec = spooled(tmp_path, token)
    runs.run_to_spool(spec, spool, token=token)
    down = httpx.Client(base_url="http://127.0.0.1:9", timeout=2)  # nothing listens on the discard port
    drained = deliver.drain(spool, "http://127.0.0.1:9", token, client=down)
    assert drained.delivered == [] and drained.waiting == 2 and "cannot reach the portal" in drained.unreachable
    assert len(spool.entries()) == 2
    drained = deliver.drain(spool, "http://testserver", token, client=client)
    assert [d.status for d in drained.delivered] == ["ok", "ok"] and spool.entries() == []
    assert len(session.exec(select(CollectorRun).where(CollectorRun.status == "ok")).all()) == 2


def test_a_refused_entry_is_set_aside(session, client, remote_instance, tmp_path):
    good_token = token_for(session, "edge-remote")
    spool, spec = spooled(tmp_path, good_token)
    runs.run_to_spool(spec, spool, token=token_for(session, "some-other-instance"))  # sealed with another token
    drained = deliver.drain(spool, "http://testserver", good_token, client=client)
    assert len(drained.delivered) == 1 and len(drained.rejected) == 1
    [rejected] = (spool.root / "rejected").iterdir()
    assert "seal does not match" in (rejected / "REJECTED.txt").read_text()


def test_secrets_are_masked_in_the_spool(session, tmp_path):
    spool, _ = spooled(tmp_path, "token")
    [entry] = spool.entries()
    text = json.dumps(entry.manifest) + "".join(
        path.read_bytes().decode("utf-8", "replace")
        for path in (entry.path / "artifacts").iterdir()
        if not path.name.endswith(".gz")
    )
    assert "remote-secret-value" not in text
