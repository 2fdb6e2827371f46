"""The audit log as people read it: one sentence per known event type, the remaining detail as
"key: value" lines, and the recorded JSON kept for whoever needs the exact record.

The sentences and the labels of the lines are gettext messages in the reader's language (the
caller passes the language; the page's request stays in the route). The recorded JSON and the
CSV export stay as recorded: identifiers, read by programs.

Rendering never fails on an event: details written by older versions, with missing or unexpected
keys, fall back to the lines; a detail that is not a JSON object is shown as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit_portal.audit.models import AuditEvent
from audit_portal.i18n import N_, Wording

Detail = dict[str, Any]

# The detail keys events record that the sentences leave to the lines, as the lines label them
# ("content_type" reads "content type"); listed so that extraction gives each a msgid. A key not
# listed here is shown as recorded.
DETAIL_LABELS = (
    N_("content type"),
    N_("detail"),
    N_("reason"),
    N_("engagement"),
    N_("instance"),
    N_("role"),
    N_("method"),
    N_("enabled"),
    N_("before"),
    N_("after"),
    N_("store key"),
    N_("status"),
    N_("size"),
    N_("note"),
    N_("name"),
    N_("evidence"),
    N_("title"),
    N_("source"),
    N_("schedule"),
    N_("run"),
    N_("rows"),
    N_("results"),
    N_("recipients"),
    N_("query"),
    N_("owner"),
    N_("kind"),
    N_("item"),
    N_("format"),
    N_("finding"),
    N_("email"),
    N_("due date"),
    N_("decision"),
    N_("conclusion"),
    N_("collector"),
    N_("requirements"),
    N_("filename"),
    N_("sha256"),
    N_("supersedes"),
)


@dataclass(frozen=True)
class ReadableEvent:
    event: AuditEvent
    summary: str  # a sentence, or "" when the event type has none
    lines: list[tuple[str, str]] = field(default_factory=list)  # the detail the sentence does not say
    raw: str = ""  # the recorded JSON, pretty-printed; "" when there is no detail

    @property
    def has_detail(self) -> bool:
        return bool(self.summary or self.lines)


def _short_hash(value: object) -> str:
    text = str(value or "")
    return text[:12] + "…" if len(text) > 12 else text


def _size(value: object, say: Wording) -> str:
    if not isinstance(value, int):
        return str(value)
    if value < 1024:
        return say.ngettext("%(count)s byte", "%(count)s bytes", value, count=say.number(value))
    size = float(value)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{say.number(size, 1)} {unit}"


def _listed(values: object) -> str:
    if isinstance(values, list | tuple):
        return ", ".join(str(v) for v in values)
    return str(values)


# Each describer returns the sentence and the detail keys it has said (left out of the lines).
Describer = Callable[[AuditEvent, Detail, Wording], tuple[str, set[str]]]


def _evidence_upload(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    filename, requirements, supersedes = d.get("filename", event.object_id), d.get("requirements"), d.get("supersedes")
    if requirements and supersedes:
        text = say.ngettext(
            "Evidence '%(filename)s' uploaded for requirement %(requirements)s, replacing item #%(supersedes)s",
            "Evidence '%(filename)s' uploaded for requirements %(requirements)s, replacing item #%(supersedes)s",
            len(requirements),
            filename=filename,
            requirements=_listed(requirements),
            supersedes=supersedes,
        )
    elif requirements:
        text = say.ngettext(
            "Evidence '%(filename)s' uploaded for requirement %(requirements)s",
            "Evidence '%(filename)s' uploaded for requirements %(requirements)s",
            len(requirements),
            filename=filename,
            requirements=_listed(requirements),
        )
    elif supersedes:
        text = say.gettext(
            "Evidence '%(filename)s' uploaded, replacing item #%(supersedes)s", filename=filename, supersedes=supersedes
        )
    else:
        text = say.gettext("Evidence '%(filename)s' uploaded", filename=filename)
    # The hash and the size are figures, the same in every language; only the size's number format differs.
    facts = [f"sha256 {_short_hash(d['sha256'])}"] if d.get("sha256") else []
    if "size" in d:
        facts.append(_size(d["size"], say))
    return text + (f" ({', '.join(facts)})" if facts else ""), {
        "filename",
        "sha256",
        "size",
        "requirements",
        "supersedes",
    }


def _evidence_viewed(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Evidence item #%(id)s viewed", id=event.object_id), set()


def _evidence_downloaded(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Evidence item #%(id)s downloaded", id=event.object_id), set()


def _evidence_previewed(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Evidence item #%(id)s previewed", id=event.object_id), set()


def _evidence_list(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return (say.gettext("Evidence list viewed with filters") if d else say.gettext("Evidence list viewed")), set()


def _legal_hold(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    if d.get("legal_hold") in (True, "on"):
        return say.gettext("Legal hold placed on evidence item #%(id)s", id=event.object_id), {"legal_hold"}
    return say.gettext("Legal hold released from evidence item #%(id)s", id=event.object_id), {"legal_hold"}


def _corrupted(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Stored object sha256 %(hash)s found corrupted", hash=_short_hash(d.get("sha256"))), {"sha256"}


def _purge(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext(
        "Evidence '%(title)s' purged after its retention ended (%(retention_until)s)",
        title=d.get("title", event.object_id),
        retention_until=d.get("retention_until") or say.gettext("unknown date"),
    ), {"title", "retention_until"}


def _login(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    user, method = event.object_id or event.actor, d.get("method")
    if event.outcome == "success":
        if method:
            return say.gettext("%(user)s signed in with %(method)s", user=user, method=method), {"method"}
        return say.gettext("%(user)s signed in", user=user), {"method"}
    outcome = say.word(event.outcome)
    if method:
        return say.gettext(
            "Sign-in of %(user)s with %(method)s %(outcome)s", user=user, method=method, outcome=outcome
        ), {"method"}
    return say.gettext("Sign-in of %(user)s %(outcome)s", user=user, outcome=outcome), {"method"}


def _user_create(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    role = say.word(d["role"]) if d.get("role") else say.gettext("unknown")
    return say.gettext("Account '%(username)s' created with the role %(role)s", username=event.object_id, role=role), {
        "role"
    }


def _user_update(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Account '%(username)s' changed", username=event.object_id), set()


def _switch_off(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    if d.get("reason"):
        return say.gettext(
            "Requirement %(requirement)s switched off: %(reason)s", requirement=event.object_id, reason=d["reason"]
        ), {"reason"}
    return say.gettext("Requirement %(requirement)s switched off", requirement=event.object_id), set()


def _switch_on(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    if d.get("reason"):
        return say.gettext(
            "Requirement %(requirement)s switched on: %(reason)s", requirement=event.object_id, reason=d["reason"]
        ), {"reason"}
    return say.gettext("Requirement %(requirement)s switched on", requirement=event.object_id), set()


def _finding_transition(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    states = {"id": event.object_id, "from": say.word(d.get("from", "?")), "to": say.word(d.get("to", "?"))}
    if d.get("note"):
        text = say.gettext("Finding #%(id)s moved from %(from)s to %(to)s: %(note)s", **states, note=d["note"])
    else:
        text = say.gettext("Finding #%(id)s moved from %(from)s to %(to)s", **states)
    return text, {"from", "to", "note"}


def _collector_run(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    run = {"instance": d.get("instance", "?"), "run": event.object_id}
    if not d.get("status"):
        text = say.gettext("Collector '%(instance)s' run #%(run)s started", **run)
    elif "findings" in d:
        text = say.ngettext(
            "Collector '%(instance)s' run #%(run)s finished: %(status)s, %(count)s finding",
            "Collector '%(instance)s' run #%(run)s finished: %(status)s, %(count)s findings",
            int(d["findings"]),
            **run,
            status=say.word(d["status"]),
        )
    else:
        text = say.gettext(
            "Collector '%(instance)s' run #%(run)s finished: %(status)s", **run, status=say.word(d["status"])
        )
    return text, {"instance", "status", "findings"}


def _token_create(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext(
        "Service token '%(name)s' created for %(scopes)s, expiring %(expires_at)s",
        name=d.get("name", event.object_id),
        scopes=_listed(d.get("scopes", [])),
        expires_at=d.get("expires_at", "?"),
    ), {"name", "scopes", "expires_at"}


def _report(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return say.gettext("Compliance report for %(month)s generated", month=d.get("month", "?")), {"month"}


def _export(event: AuditEvent, d: Detail, say: Wording) -> tuple[str, set[str]]:
    return (
        say.gettext("Audit log exported as CSV with filters") if d else say.gettext("Audit log exported as CSV")
    ), set()


DESCRIBERS: dict[str, Describer] = {
    "evidence.upload": _evidence_upload,
    "evidence.view": _evidence_viewed,
    "evidence.download": _evidence_downloaded,
    "evidence.preview": _evidence_previewed,
    "evidence.list": _evidence_list,
    "evidence.legal-hold": _legal_hold,
    "evidence.corrupted": _corrupted,
    "evidence.purge": _purge,
    "auth.login": _login,
    "user.create": _user_create,
    "user.update": _user_update,
    "requirement.switch_off": _switch_off,
    "requirement.switch_on": _switch_on,
    "finding.transition": _finding_transition,
    "collector.run": _collector_run,
    "token.create": _token_create,
    "report.generate": _report,
    "audit.export": _export,
}


def readable(event: AuditEvent, language: str) -> ReadableEvent:
    """``event`` as a reader of ``language`` reads it."""
    say = Wording(language)
    try:
        detail = json.loads(event.detail or "{}")
    except ValueError:
        return ReadableEvent(event, "", [(say.gettext("detail"), event.detail)], event.detail)
    if not isinstance(detail, dict):
        return ReadableEvent(event, "", [(say.gettext("detail"), _value(detail, say))], event.detail)
    raw = json.dumps(detail, indent=2, ensure_ascii=False, sort_keys=True) if detail else ""
    describe = DESCRIBERS.get(event.action)
    summary, used = "", set[str]()
    if describe is not None:
        try:
            summary, used = describe(event, detail, say)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A detail of an unexpected shape (an older version's) is still shown, as lines.
            summary, used = "", set()
    lines = [(_label(key, say), _value(value, say)) for key, value in detail.items() if key not in used]
    return ReadableEvent(event, summary, lines, raw)


def _label(key: str, say: Wording) -> str:
    return say.gettext(key.replace("_", " "))


def _value(value: object, say: Wording) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return say.gettext("yes") if value else say.gettext("no")
    if isinstance(value, list | tuple):
        return ", ".join(_value(item, say) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{_label(key, say)}: {_value(item, say)}" for key, item in value.items()) or "—"
    return str(value)
