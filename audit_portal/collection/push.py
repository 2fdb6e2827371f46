"""Remote push: run a collector on the host it inspects and upload the result to the portal, so
that host needs no database access, only HTTPS and a service token scoped to the instance.

This is the host agent (``audit_portal.agent``) for one instance and one delivery: the run is
spooled in a temporary folder, sealed, and delivered at once (open the run with its sealed
manifest, upload each artifact to ``/api/v1/evidence``, finish the run). A run that failed
locally is still reported, so the portal shows it. Secrets are masked in everything that
leaves the host except the raw input. The ``audit-portal collect run --push`` command is the
agent itself, with a persistent spool and retries (``audit_portal/agent/cli.py``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from audit_portal.agent import deliver, runs
from audit_portal.agent.spool import Spool


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
    try:
        specs = {spec.name: spec for spec in runs.read_instances(config_text)}
        if name not in specs:
            raise PushFailed(f"the config file defines no instance {name!r} (it has: {', '.join(sorted(specs))})")
        with tempfile.TemporaryDirectory(prefix="audit-portal-push-") as folder:
            spool = Spool(Path(folder))
            runs.run_to_spool(specs[name], spool, token=token, now=now)
            drained = deliver.drain(spool, base_url, token, client=client)
    except runs.AgentError as error:
        raise PushFailed(str(error)) from None
    if drained.unreachable:
        raise PushFailed(drained.unreachable)
    if drained.rejected:
        raise PushFailed(drained.rejected[0].split(": ", 1)[1])
    item = drained.delivered[0]
    return PushResult(item.run_id, item.status, item.uploaded)
