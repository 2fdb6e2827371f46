"""The audit log as people read it: one sentence per known event type, the remaining detail as
"key: value" lines, and the recorded JSON kept for whoever needs the exact record.

Rendering never fails on an event: details written by older versions, with missing or unexpected
keys, fall back to the lines; a detail that is not a JSON object is shown as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit_portal.audit.models import AuditEvent

Detail = dict[str, Any]


@dataclass(frozen=True)
class ReadableEvent:
    event: AuditEvent
    summary: str  # a sentence, or "" when the event type has none
    lines: list[tuple[str, str]] = field(default_factory=list)  # the detail the sentence does not say
    raw: str = ""  # the recorded JSON, pretty-printed; "" when there is no detail

    @property
    def has_detail(self) -> bool:
        return bool(self.summary or self.lines)


def _quoted(value: object) -> str:
    return f"'{value}'"


def _short_hash(value: object) -> str:
    text = str(value or "")
    return text[:12] + "…" if len(text) > 12 else text


def _size(value: object) -> str:
    if not isinstance(value, int):
        return str(value)
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _listed(values: object) -> str:
    if isinstance(values, list | tuple):
        return ", ".join(str(v) for v in values)
    return str(values)


# Each describer returns the sentence and the detail keys it has said (left out of the lines).
Describer = Callable[[AuditEvent, Detail], tuple[str, set[str]]]


def _evidence_upload(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    text = f"Evidence {_quoted(d.get('filename', event.object_id))} uploaded"
    used = {"filename", "sha256", "size"}
    if d.get("requirements"):
        text += f" for requirement{'s' if len(d['requirements']) > 1 else ''} {_listed(d['requirements'])}"
        used.add("requirements")
    if d.get("supersedes"):
        text += f", replacing item #{d['supersedes']}"
    used.add("supersedes")
    facts = [f"sha256 {_short_hash(d['sha256'])}"] if d.get("sha256") else []
    if "size" in d:
        facts.append(_size(d["size"]))
    return text + (f" ({', '.join(facts)})" if facts else ""), used


def _evidence_access(verb: str) -> Describer:
    def describe(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
        return f"Evidence item #{event.object_id} {verb}", set()

    return describe


def _evidence_list(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return ("Evidence list viewed" + (" with filters" if d else ""), set())


def _legal_hold(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    placed = d.get("legal_hold") in (True, "on")
    return f"Legal hold {'placed on' if placed else 'released from'} evidence item #{event.object_id}", {"legal_hold"}


def _corrupted(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return f"Stored object sha256 {_short_hash(d.get('sha256'))} found corrupted", {"sha256"}


def _purge(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return (
        f"Evidence {_quoted(d.get('title', event.object_id))} purged after its retention ended "
        f"({d.get('retention_until', 'unknown date')})"
    ), {"title", "retention_until"}


def _login(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    how = f" with {d['method']}" if d.get("method") else ""
    if event.outcome == "success":
        return f"{event.object_id or event.actor} signed in{how}", {"method"}
    return f"Sign-in of {event.object_id or event.actor}{how} {event.outcome}", {"method"}


def _user_create(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return f"Account {_quoted(event.object_id)} created with the role {d.get('role', 'unknown')}", {"role"}


def _user_update(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return f"Account {_quoted(event.object_id)} changed", set()


def _switch(state: str) -> Describer:
    def describe(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
        text = f"Requirement {event.object_id} switched {state}"
        if d.get("reason"):
            return text + f": {d['reason']}", {"reason"}
        return text, set()

    return describe


def _finding_transition(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    text = f"Finding #{event.object_id} moved from {d.get('from', '?')} to {d.get('to', '?')}"
    if d.get("note"):
        text += f": {d['note']}"
    return text, {"from", "to", "note"}


def _collector_run(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    text = f"Collector {_quoted(d.get('instance', '?'))} run #{event.object_id}"
    if d.get("status"):
        text += f" finished: {d['status']}"
        if "findings" in d:
            text += f", {d['findings']} finding{'s' if d['findings'] != 1 else ''}"
    else:
        text += " started"
    return text, {"instance", "status", "findings"}


def _token_create(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return (
        f"Service token {_quoted(d.get('name', event.object_id))} created for {_listed(d.get('scopes', []))}, "
        f"expiring {d.get('expires_at', '?')}"
    ), {"name", "scopes", "expires_at"}


def _report(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return f"Compliance report for {d.get('month', '?')} generated", {"month"}


def _export(event: AuditEvent, d: Detail) -> tuple[str, set[str]]:
    return "Audit log exported as CSV" + (" with filters" if d else ""), set()


DESCRIBERS: dict[str, Describer] = {
    "evidence.upload": _evidence_upload,
    "evidence.view": _evidence_access("viewed"),
    "evidence.download": _evidence_access("downloaded"),
    "evidence.preview": _evidence_access("previewed"),
    "evidence.list": _evidence_list,
    "evidence.legal-hold": _legal_hold,
    "evidence.corrupted": _corrupted,
    "evidence.purge": _purge,
    "auth.login": _login,
    "user.create": _user_create,
    "user.update": _user_update,
    "requirement.switch_off": _switch("off"),
    "requirement.switch_on": _switch("on"),
    "finding.transition": _finding_transition,
    "collector.run": _collector_run,
    "token.create": _token_create,
    "report.generate": _report,
    "audit.export": _export,
}


def readable(event: AuditEvent) -> ReadableEvent:
    try:
        detail = json.loads(event.detail or "{}")
    except ValueError:
        return ReadableEvent(event, "", [("detail", event.detail)], event.detail)
    if not isinstance(detail, dict):
        return ReadableEvent(event, "", [("detail", _value(detail))], event.detail)
    raw = json.dumps(detail, indent=2, ensure_ascii=False, sort_keys=True) if detail else ""
    describe = DESCRIBERS.get(event.action)
    summary, used = "", set[str]()
    if describe is not None:
        try:
            summary, used = describe(event, detail)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A detail of an unexpected shape (an older version's) is still shown, as lines.
            summary, used = "", set()
    lines = [(key.replace("_", " "), _value(value)) for key, value in detail.items() if key not in used]
    return ReadableEvent(event, summary, lines, raw)


def _value(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {_value(item)}" for key, item in value.items()) or "—"
    return str(value)
