"""The portal's side of sealed pushes (``audit_portal.agent.seal``): a push is accepted only
with a valid seal over its manifest, each nonce once; every uploaded artifact and the finishing
request must match the manifest. An interrupted push may resume with the same nonce and the
same content while its run is unfinished; anything else with a known nonce is a replay."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from audit_portal.agent import seal as sealing
from audit_portal.auth import repository as auth_repository
from audit_portal.clock import as_utc, utcnow
from audit_portal.collection import repository
from audit_portal.collection.models import CollectorRun
from audit_portal.errors import Conflict, InvalidInput
from audit_portal.evidence import repository as evidence_repository
from audit_portal.principals import Principal

# A spooled run may wait for a portal that is down; older seals are refused.
MAX_SEAL_AGE = timedelta(days=30)
CLOCK_SKEW = timedelta(minutes=5)


def _moment(value: str, what: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(f"The push's {what} is not a date-time.") from None


def checked_manifest(session: Session, body: Any, principal: Principal) -> Any:
    """The validated manifest of a push whose seal holds; raises otherwise."""
    from audit_portal.collection.schemas import PushManifest

    push = body.seal
    token = auth_repository.token_by_id(session, principal.token_id) if principal.token_id else None
    if token is None:
        raise InvalidInput("Only a service token can push.")
    digest = sealing.content_sha256(push.manifest)
    if digest != push.content_sha256 or not sealing.verify(
        sealing.signing_key(token.token_hash),
        push.signature,
        push_id=push.push_id,
        signed_at=push.signed_at,
        instance=body.instance,
        digest=digest,
    ):
        raise InvalidInput(
            "The push's seal does not match its content: it was altered or signed with another token.",
            errors=[{"location": "seal", "message": "signature mismatch"}],
        )
    signed_at = _moment(push.signed_at, "signed_at")
    now = utcnow()
    if signed_at > now + CLOCK_SKEW:
        raise InvalidInput("The push is signed in the future: check the host's clock.")
    if signed_at < now - MAX_SEAL_AGE:
        raise InvalidInput(f"The push was signed more than {MAX_SEAL_AGE.days} days ago and is no longer accepted.")
    try:
        manifest = PushManifest.model_validate(push.manifest)
    except ValidationError as error:
        first = error.errors(include_input=False)[0]
        raise InvalidInput(
            f"The push manifest is not valid: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
    if (manifest.instance, manifest.collector) != (body.instance, body.collector) or _moment(
        manifest.started_at, "started_at"
    ) != as_utc(body.started_at):
        raise InvalidInput("The push's manifest describes another run than the request.")
    if len({artifact.kind for artifact in manifest.artifacts}) != len(manifest.artifacts):
        raise InvalidInput("The push's manifest names an artifact kind twice.")
    return manifest


def earlier_push(session: Session, body: Any) -> CollectorRun | None:
    """The run an earlier push with this nonce opened: returned to resume an unfinished push of
    the same content; a replay (finished run) or different content is refused."""
    run = repository.run_by_push_id(session, body.seal.push_id)
    if run is None:
        return None
    if run.push_digest == body.seal.content_sha256 and run.status == "running" and run.instance_name == body.instance:
        return run
    raise Conflict(f"Push {body.seal.push_id} was already received (run {run.id}): a replayed push is refused.")


def seal_run(run: CollectorRun, body: Any) -> None:
    run.push_id = body.seal.push_id
    run.push_digest = body.seal.content_sha256
    run.push_manifest = json.dumps(body.seal.manifest, sort_keys=True)


def _manifest(run: CollectorRun) -> dict[str, Any] | None:
    return json.loads(run.push_manifest) if run.push_manifest else None


def check_artifact(session: Session, run_id: int, kind: str | None, sha256: str, size: int) -> None:
    """An artifact uploaded for a sealed run must be one the manifest lists, byte for byte."""
    run = repository.get_run(session, run_id)
    manifest = _manifest(run) if run is not None else None
    if manifest is None:
        return
    expected = next((item for item in manifest["artifacts"] if item["kind"] == kind), None)
    if expected is None:
        raise InvalidInput(f"Run {run_id}'s push manifest lists no {kind or 'unnamed'} artifact.")
    if (expected["sha256"], expected["size"]) != (sha256, size):
        raise InvalidInput(
            f"The {kind} artifact differs from the one the push was sealed with (altered in transit?).",
            errors=[{"location": "file", "message": "sha256 does not match the sealed manifest"}],
        )


def check_finish(run: CollectorRun, body: Any, received: dict[str, str]) -> None:
    """The finishing request must say what the manifest said, and every sealed artifact must
    have arrived unchanged (``received``: kind -> sha256 of the stored evidence)."""
    manifest = _manifest(run)
    if manifest is None:
        return
    said = {
        "status": body.status,
        "log": body.log,
        "error": body.error,
        "findings": [finding.model_dump() for finding in body.findings],
    }
    sealed = {
        "status": manifest["status"],
        "log": manifest["log"],
        "error": manifest["error"],
        "findings": manifest["findings"],
    }
    if said != sealed or as_utc(body.finished_at) != _moment(manifest["finished_at"], "finished_at"):
        raise InvalidInput(
            "The finishing request differs from the sealed manifest (altered?).",
            errors=[{"location": "body", "message": "does not match the sealed manifest"}],
        )
    missing = [item["kind"] for item in manifest["artifacts"] if received.get(item["kind"]) != item["sha256"]]
    if missing:
        raise InvalidInput(f"Push the sealed {', '.join(missing)} artifact(s) of run {run.id} before finishing it.")


def received_kinds(session: Session, run_id: int) -> list[str]:

    return sorted(
        item.artifact_kind for item in evidence_repository.evidence_of_run(session, run_id) if item.artifact_kind
    )
