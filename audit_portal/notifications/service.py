"""The weekly digest: per role, what expires in the next 30 days, the collectors that failed,
the evidence requests and findings that are new this week or overdue, sent over SMTP.

Who gets which section (each to the roles concerned):

| section | admin | it | management | auditor |
| --- | --- | --- | --- | --- |
| evidence expiring in 30 days | yes | yes | yes | no |
| failed / late collectors | yes | yes | yes | no |
| new and overdue evidence requests | yes | yes | yes | their engagements |
| new and overdue findings | yes | yes | yes | their engagements |

A digest with nothing in it is not sent. A user receives it when they gave an address on
``/notifications`` and did not opt out.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.auth.models import UserAccount
from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.dashboard import repository as figures
from audit_portal.dashboard import service as dashboard
from audit_portal.engagements import repository as engagement_repository
from audit_portal.errors import InvalidInput
from audit_portal.i18n import DEFAULT_LANGUAGE, N_, format_local_date, format_local_datetime, zone
from audit_portal.notifications import repository
from audit_portal.notifications.models import DigestPreference
from audit_portal.principals import Actor, Role

WEEK = timedelta(days=7)
EXPIRING, COLLECTORS, REQUESTS, FINDINGS = "expiring", "collectors", "requests", "findings"
SECTIONS_BY_ROLE: dict[str, tuple[str, ...]] = {
    Role.admin: (EXPIRING, COLLECTORS, REQUESTS, FINDINGS),
    Role.it: (EXPIRING, COLLECTORS, REQUESTS, FINDINGS),
    Role.management: (EXPIRING, COLLECTORS, REQUESTS, FINDINGS),
    Role.auditor: (REQUESTS, FINDINGS),
}
SECTION_TITLES = {
    EXPIRING: N_("Evidence expiring in the next 30 days"),
    COLLECTORS: N_("Collectors that failed or did not run"),
    REQUESTS: N_("Evidence requests: new this week or overdue"),
    FINDINGS: N_("Findings: new this week or with an overdue corrective action"),
}


@dataclass(frozen=True)
class Line:
    """One line of a digest section, in English with %(name)s placeholders; ``words`` names the
    parameters that are words of their own (a run status) and are translated too. A date or a
    moment among the parameters is written as the reader writes it, a moment in their time zone."""

    message: str
    params: dict[str, object]
    path: str  # a portal path; the message shows it as an absolute link
    words: tuple[str, ...] = ()

    def text(self, gettext: Callable[[str], str] = str, language: str = DEFAULT_LANGUAGE, tz: str | None = None) -> str:
        def said(name: str, value: object) -> object:
            if name in self.words:
                return gettext(str(value))
            if isinstance(value, datetime):
                return format_local_datetime(value, language, zone(tz))
            if isinstance(value, date) or value is None:
                return format_local_date(value, language, zone(tz))
            return value

        return gettext(self.message) % {name: said(name, value) for name, value in self.params.items()}


@dataclass
class Digest:
    user: UserAccount
    email: str
    sections: dict[str, list[Line]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())


@dataclass(frozen=True)
class Facts:
    """Everything the digests draw from, gathered once for all recipients."""

    expiring: list[Line]
    collectors: list[Line]
    requests: list[tuple[int, Line]]  # (engagement id, line)
    findings: list[tuple[int | None, Line]]  # (engagement id, line)


def gather_facts(session: Session, now: datetime) -> Facts:
    today = now.date()
    period = dashboard.period_for(session, today=today)
    expiring = [
        Line(
            "%(expires_on)s: %(label)s: %(title)s",
            {"expires_on": item.expires_on, "label": item.label, "title": item.title},
            "/dashboard/expiring",
        )
        for item in dashboard.expiring_list(session, period=period)
    ]
    health = dashboard.collector_health(session, now)
    collectors = [
        Line(
            N_("%(instance)s: run %(run)s %(status)s at %(at)s"),
            {
                "instance": run.instance_name,
                "run": str(run.id),
                "status": run.status.replace("_", " "),
                "at": run.started_at,
            },
            f"/runs/{run.id}",
            words=("status",),
        )
        for run in health.failed_runs
    ] + [
        Line(
            N_("%(instance)s: has not run since its scheduled time %(at)s"),
            {"instance": c.name, "at": c.due_since},
            f"/collectors/{c.name}",
        )
        for c in health.late
    ]
    since = now - WEEK
    overdue_requests = {r.id: r for r in figures.pending_requests(session, overdue_on=today)}
    new_requests = {r.id: r for r in figures.requests_created_since(session, since)}
    requests = [
        (
            r.engagement_id,
            Line(
                N_("overdue since %(due)s: %(question)s")
                if r.id in overdue_requests
                else N_("new, due %(due)s: %(question)s"),
                {"due": r.due_date, "question": r.question},
                f"/engagements/{r.engagement_id}/requests",
            ),
        )
        for r in sorted({**new_requests, **overdue_requests}.values(), key=lambda r: (r.due_date, r.id))
    ]
    overdue_findings = {f.id: f for f in figures.open_findings(session, overdue_on=today)}
    new_findings = {f.id: f for f in figures.findings_raised_since(session, since)}
    findings = [
        (
            f.engagement_id,
            Line(
                N_("%(severity)s: %(title)s (corrective action overdue since %(due)s)")
                if f.id in overdue_findings
                else N_("%(severity)s: %(title)s (new)"),
                {"severity": f.severity, "title": f.title, "due": f.due_date},
                f"/dashboard/findings?severity={f.severity}",
                words=("severity",),
            ),
        )
        for f in sorted({**new_findings, **overdue_findings}.values(), key=lambda f: f.id)
    ]
    return Facts(expiring=expiring, collectors=collectors, requests=requests, findings=findings)


def digest_for(user: UserAccount, email: str, facts: Facts, engagements: set[int]) -> Digest:
    sections = SECTIONS_BY_ROLE.get(user.role, ())
    scoped: Callable[[int | None], bool] = (
        (lambda engagement_id: engagement_id in engagements) if user.role == Role.auditor else (lambda _: True)
    )
    digest = Digest(user=user, email=email)
    if EXPIRING in sections:
        digest.sections[EXPIRING] = facts.expiring
    if COLLECTORS in sections:
        digest.sections[COLLECTORS] = facts.collectors
    if REQUESTS in sections:
        digest.sections[REQUESTS] = [line for engagement_id, line in facts.requests if scoped(engagement_id)]
    if FINDINGS in sections:
        digest.sections[FINDINGS] = [line for engagement_id, line in facts.findings if scoped(engagement_id)]
    return digest


def build_digests(session: Session, now: datetime | None = None) -> list[Digest]:
    now = now or utcnow()
    facts = gather_facts(session, now)
    auditors = engagement_repository.engagements_by_auditor(session)
    addresses = {
        preference.user_id: preference.email
        for preference in repository.preferences_with_address(session)
        if preference.email is not None
    }
    digests = [
        digest_for(user, addresses[user.id], facts, auditors.get(user.id, set()))
        for user in auth_repository.active_users(session, addresses, now)
    ]
    return [digest for digest in digests if not digest.empty]


def compose(digest: Digest, settings: Settings, now: datetime) -> EmailMessage:
    """The digest in the recipient's language (their profile's, else English: an e-mail has no
    browser to ask), with times in their time zone."""
    from audit_portal.templating import build_templates, i18n_context

    env = build_templates().env
    language = digest.user.language or DEFAULT_LANGUAGE
    localized = i18n_context(language, digest.user.time_zone, settings.time_zone)
    gettext = localized["translations"].gettext
    context = {
        "digest": digest,
        "titles": SECTION_TITLES,
        "base_url": settings.base_url.rstrip("/"),
        "week_of": now.date(),
        "line_text": lambda line: line.text(gettext, language, localized["time_zone"]),
        **localized,
    }
    message = EmailMessage()
    week = format_local_date(now, language, zone(localized["time_zone"]))
    message["Subject"] = gettext("audit-portal weekly digest, week of %(week)s") % {"week": week}
    message["From"] = settings.smtp_from
    message["To"] = digest.email
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or "localhost")
    message.set_content(env.get_template("email/digest.txt").render(context))
    message.add_alternative(env.get_template("email/digest.html").render(context), subtype="html")
    return message


@dataclass(frozen=True)
class SendResult:
    sent: list[str]  # addresses
    messages: list[EmailMessage]


def send_digests(
    session: Session,
    settings: Settings,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: Actor,
) -> SendResult:
    """Compose every digest; send them over one SMTP connection unless ``dry_run``."""
    now = now or utcnow()
    messages = [compose(digest, settings, now) for digest in build_digests(session, now)]
    if not dry_run and messages:
        if not settings.smtp_host:
            raise InvalidInput(
                N_("AUDIT_PORTAL_SMTP_HOST is not set; no e-mail can be sent (use --dry-run to see the digests).")
            )
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            for message in messages:
                smtp.send_message(message)
        record_event(
            session,
            actor=actor,
            action="digest.send",
            object_type="digest",
            object_id=now.date().isoformat(),
            detail={"recipients": [str(m["To"]) for m in messages]},
        )
    return SendResult(sent=[str(m["To"]) for m in messages], messages=messages)


# --- the user's own preference ----------------------------------------------------------------


def preference_of(session: Session, user_id: int) -> DigestPreference:
    return repository.preference(session, user_id) or DigestPreference(
        user_id=user_id, email=None, opted_out=False, updated_at=utcnow()
    )


NOT_AN_EMAIL_ADDRESS = N_("Not an e-mail address: it needs one @ and no spaces, e.g. name@example.nl.")


def email_error(email: str) -> str | None:
    """Why ``email`` cannot be kept, or None (an empty address is fine: no digest)."""
    email = email.strip()
    if email and ("@" not in email or " " in email or len(email) > 254):
        return NOT_AN_EMAIL_ADDRESS
    return None


def save_preference(session: Session, *, actor: Actor, email: str, wants_digest: bool) -> DigestPreference:
    account_id = actor.principal.account_id
    email = email.strip()
    problem = email_error(email)
    if problem:
        raise InvalidInput(
            N_("'%(email)s' is not an e-mail address."),
            values={"email": email},
            errors=[{"location": "email", "message": N_("not an e-mail address")}],
        )
    preference = preference_of(session, account_id)
    preference.email = email or None
    preference.opted_out = not wants_digest
    preference.updated_at = utcnow()
    repository.save(session, preference)
    record_event(
        session,
        actor=actor,
        action="digest.preference",
        object_type="user",
        object_id=account_id,
        detail={"email": preference.email, "opted_out": preference.opted_out},
    )
    return preference
