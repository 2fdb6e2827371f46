"""Remote push: a collector runs where the data is and uploads through the API with a token."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from audit_portal.auth import tokens
from audit_portal.collection import push, repository, service
from audit_portal.collection.models import CollectorRun
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import Evidence
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from collectors.options import HOST
from tests.support import reading_recordings

pytestmark = pytest.mark.usefixtures("plugin_path", "catalogue")

REMOTE_FILE = """
- name: edge-remote
  collector: tiny
  remote: true
  timeout_seconds: 30
  config:
    items: [a, b]
    token: remote-secret-value
    echo_token: true
"""


@pytest.fixture
def remote_instance(session, settings):  # type: ignore[no-untyped-def]
    spec = service.InstanceSpec(name="edge-remote", collector="tiny", remote=True, timeout_seconds=30)
    return service.save_instance(session, spec, settings=settings, actor=Actor.system("test"))


def sealed_open(
    token: str,
    instance: str,
    collector: str,
    *,
    status: str = "failed",
    error: str | None = None,
    artifacts: list | None = None,
    findings: list | None = None,
    log: str = "",
) -> dict:
    """The body that opens a pushed run, sealed as the agent seals it."""
    import uuid
    from datetime import UTC, datetime

    from audit_portal.agent import seal

    manifest = {
        "instance": instance,
        "collector": collector,
        "collector_version": "0.1.0",
        "started_at": "2026-01-05T06:00:00+00:00",
        "finished_at": "2026-01-05T06:01:00+00:00",
        "status": status,
        "error": error,
        "log": log,
        "findings": findings or [],
        "artifacts": artifacts or [],
    }
    push_id, signed_at = uuid.uuid4().hex, datetime.now(UTC).isoformat()
    digest = seal.content_sha256(manifest)
    return {
        "instance": instance,
        "collector": collector,
        "collector_version": "0.1.0",
        "started_at": manifest["started_at"],
        "seal": {
            "version": "push-v1",
            "push_id": push_id,
            "signed_at": signed_at,
            "content_sha256": digest,
            "manifest": manifest,
            "signature": seal.sign(
                seal.signing_key(seal.token_digest(token)),
                push_id=push_id,
                signed_at=signed_at,
                instance=instance,
                digest=digest,
            ),
        },
    }


def token_for(session, *scopes):  # type: ignore[no-untyped-def]
    return tokens.create(session, name="edge host", scopes=list(scopes), days=30, actor=Actor.system("test")).secret


def test_a_remote_run_arrives_with_its_artifacts_and_findings(session, client, remote_instance, store):
    result = push.run_and_push(
        "edge-remote", REMOTE_FILE, base_url="http://testserver", token=token_for(session, "edge-remote"), client=client
    )
    assert (result.status, result.uploaded) == ("ok", 3)
    run = session.get(CollectorRun, result.run_id)
    assert (run.status, run.trigger, run.findings_count) == ("ok", "push", 2)
    assert "remote-secret-value" not in run.log and "using token ********" in run.log
    items = session.exec(select(Evidence).where(Evidence.collector_run_id == run.id)).all()
    assert sorted(e.artifact_kind for e in items) == ["normalised", "raw", "report"]
    assert {e.source_kind for e in items} == {"api"}
    for item in items:
        with store.open(item.store_key) as stream:
            assert b"remote-secret-value" not in stream.read()
    keys = {f.key for f in session.exec(select(Finding).where(Finding.collector_instance == "edge-remote")).all()}
    assert keys == {"item:a", "item:b"}
    assert len(evidence_repository.evidence_of_run(session, run.id)) == 3


def test_a_token_for_another_instance_is_refused(session, client, remote_instance):
    with pytest.raises(push.PushFailed, match="403"):
        push.run_and_push(
            "edge-remote",
            REMOTE_FILE,
            base_url="http://testserver",
            token=token_for(session, "some-other-instance"),
            client=client,
        )
    assert session.exec(select(CollectorRun)).all() == []


def test_a_run_cannot_be_finished_ok_without_its_artifacts(session, client, remote_instance):
    token = token_for(session, "edge-remote")
    client.headers["Authorization"] = f"Bearer {token}"
    opened = client.post("/api/v1/collector-runs", json=sealed_open(token, "edge-remote", "tiny", status="ok"))
    assert opened.status_code == 201
    run_id = opened.json()["run_id"]
    refused = client.post(
        f"/api/v1/collector-runs/{run_id}/finish",
        json={"status": "ok", "finished_at": "2026-01-05T06:01:00Z", "log": "", "error": None},
    )
    assert refused.status_code == 422 and "raw, normalised, report" in refused.json()["detail"]
    failed = client.post(
        f"/api/v1/collector-runs/{run_id}/finish",
        json={"status": "failed", "finished_at": "2026-01-05T06:01:00Z", "error": "no ruleset"},
    )
    assert failed.status_code == 422 and "differs from the sealed manifest" in failed.json()["detail"]
    opened = client.post("/api/v1/collector-runs", json=sealed_open(token, "edge-remote", "tiny", error="no ruleset"))
    run_id = opened.json()["run_id"]
    failed = client.post(
        f"/api/v1/collector-runs/{run_id}/finish",
        json={"status": "failed", "finished_at": "2026-01-05T06:01:00Z", "error": "no ruleset"},
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    again = client.post(
        f"/api/v1/collector-runs/{run_id}/finish", json={"status": "failed", "finished_at": "2026-01-05T06:01:00Z"}
    )
    assert again.status_code == 409


def test_a_signed_in_person_cannot_use_the_push_api(login_as, remote_instance):
    response = login_as("it").post(
        "/api/v1/collector-runs",
        json={"instance": "edge-remote", "collector": "tiny", "started_at": "2026-01-05T06:00:00Z"},
    )
    assert response.status_code == 403


def test_evidence_cannot_be_attached_to_another_instances_run(session, client, remote_instance, settings):
    other = service.save_instance(
        session,
        service.InstanceSpec(name="other-remote", collector="tiny", remote=True, timeout_seconds=30),
        settings=settings,
        actor=Actor.system("test"),
    )
    assert other is not None
    other_token = token_for(session, "other-remote")
    client.headers["Authorization"] = f"Bearer {other_token}"
    opened = client.post("/api/v1/collector-runs", json=sealed_open(other_token, "other-remote", "tiny"))
    assert opened.status_code == 201
    foreign_run = opened.json()["run_id"]
    client.headers["Authorization"] = f"Bearer {token_for(session, 'edge-remote')}"
    metadata = json.dumps(
        {
            "title": "ruleset",
            "collector_instance": "edge-remote",
            "collector_run_id": foreign_run,
            "collected_at": "2026-01-05T06:00:30Z",
            "requirements": ["ACC-1/firewall"],
        }
    )
    response = client.post(
        "/api/v1/evidence",
        files=[
            ("metadata", (None, metadata, "application/json")),
            ("file", ("rules.txt", b"*filter\nCOMMIT\n", "text/plain")),
        ],
    )
    assert response.status_code == 422, response.text
    assert "is not a run of 'edge-remote'" in response.json()["detail"]
    assert session.exec(select(Evidence).where(Evidence.collector_run_id == foreign_run)).all() == []


def test_a_builtin_collector_of_part_two_runs_on_its_host_and_pushes(session, client, settings, tmp_path):
    """hardening reads the host's Lynis report where it is and pushes the three artifacts."""
    from pathlib import Path

    report = Path(__file__).resolve().parents[1] / "collectors" / "recordings" / "lynis" / "lynis-report.run2.dat"
    spec = service.InstanceSpec(
        name="hardening-web1",
        collector="hardening",
        remote=True,
        timeout_seconds=60,
        config={"hosts": [{"name": "web1", "lynis_report": str(report)}]},
    )
    service.save_instance(session, spec, settings=reading_recordings(settings), origin=HOST, actor=Actor.system("test"))
    definition = f"""
- name: hardening-web1
  collector: hardening
  remote: true
  config:
    hosts: [{{name: web1, lynis_report: {report}}}]
"""
    result = push.run_and_push(
        "hardening-web1",
        definition,
        base_url="http://testserver",
        token=token_for(session, "hardening-web1"),
        client=client,
    )
    assert (result.status, result.uploaded) == ("ok", 3)
    run = session.get(CollectorRun, result.run_id)
    assert (run.status, run.trigger) == ("ok", "push")
    keys = {f.key for f in session.exec(select(Finding).where(Finding.collector_instance == "hardening-web1")).all()}
    assert "hardening-index:web1" in keys and "lynis-warning:web1:FIRE-4512" in keys
