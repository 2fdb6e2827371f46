"""Decisions on security advisories (ORG-2): a person with the it role records, per advisory an
advisories instance reported, whether it is not applicable, patched or mitigated, and why.

The decisions live in the instance's configuration (``decisions``), because that is what the
collector reads on its next run: a decided advisory stops being an open finding, and the report
lists every decision with its author and time. Each decision is an audit event of its own; the
run is then signed off like a firewall review (the requirement needs a sign-off)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.clock import utcnow
from audit_portal.collection import service
from audit_portal.collection.secrets import unsealed
from audit_portal.config import Settings
from audit_portal.errors import Forbidden, InvalidInput
from audit_portal.i18n import N_
from audit_portal.principals import Actor
from collectors.advisories.collector import DECISIONS
from collectors.options import HOST, WEB

COLLECTOR = "advisories"
_ADVISORY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
MAX_NOTE = 2000


def decisions_of(instance: Any) -> list[dict[str, Any]]:
    """The decisions stored with an advisories instance, newest first (none for other collectors)."""
    if instance.collector != COLLECTOR:
        return []
    config = json.loads(instance.config_json)
    return sorted(config.get("decisions") or [], key=lambda item: str(item.get("at", "")), reverse=True)


def open_advisories(detail: Any) -> list[str]:
    """Advisory ids of the run's open advisory findings (the part of the key after the
    prefix), for the decision form."""
    return sorted(
        {
            finding.key.split(":", 1)[1]
            for finding in detail.findings
            if (finding.key or "").startswith(("advisory-open:", "advisory-still-affected:"))
        }
    )


def record_decision(
    session: Session,
    run_id: int,
    *,
    advisory: str,
    status: str,
    note: str,
    actor: Actor,
    settings: Settings,
    decided_at: datetime | None = None,
) -> dict[str, Any]:
    principal = actor.principal
    from audit_portal.collection import views

    if principal.user_id is None or not principal.username:
        raise Forbidden(N_("Only a signed-in person can record a decision."))
    advisory, note = advisory.strip(), note.strip()
    if not _ADVISORY_ID.match(advisory):
        raise InvalidInput(
            N_("Give the advisory's tracking id, e.g. NCSC-2026-0412."),
            errors=[{"location": "advisory", "message": N_("not a tracking id")}],
        )
    if status not in DECISIONS:
        raise InvalidInput(
            N_("The decision must be one of: %(choices)s."),
            values={"choices": ", ".join(DECISIONS)},
            errors=[{"location": "status", "message": N_("unknown decision")}],
        )
    if status != "patched" and not note:
        raise InvalidInput(
            N_("Say why: a 'not applicable' or 'mitigated' decision needs its reasoning."),
            errors=[{"location": "note", "message": N_("required")}],
        )
    if len(note) > MAX_NOTE:
        raise InvalidInput(N_("The note is longer than %(most)s characters."), values={"most": MAX_NOTE})
    detail = views.run_detail(session, run_id)
    instance = detail.instance
    if instance.collector != COLLECTOR:
        raise InvalidInput(N_("%(instance)s is not an advisories instance."), values={"instance": instance.name})
    config = unsealed(json.loads(instance.config_json), settings.ensure_secret_key())
    decision = {
        "advisory": advisory,
        "status": status,
        "by": principal.username,
        "at": (decided_at or utcnow()).isoformat(),
        "note": note,
    }
    # one decision per advisory: a new one replaces the earlier (the audit trail keeps both)
    config["decisions"] = [item for item in config.get("decisions") or [] if item.get("advisory") != advisory]
    config["decisions"].append(decision)
    spec = service.InstanceSpec(
        name=instance.name,
        collector=instance.collector,
        config=config,
        schedule=instance.schedule,
        enabled=instance.enabled,
        remote=instance.remote,
        requirements=instance.requirement_list,
        timeout_seconds=instance.timeout_seconds,
    )
    # Only the decisions change; the rest is the stored configuration, which an operator may
    # have imported on the host (a mirrored folder of advisories).
    origin = HOST if instance.host_managed else WEB
    service.save_instance(session, spec, settings=settings, origin=origin, actor=actor)
    record_event(
        session,
        actor=actor,
        action="advisory.decision",
        object_type="collector_instance",
        object_id=instance.name,
        detail={"run": run_id, **decision},
    )
    return decision
