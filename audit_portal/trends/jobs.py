"""The management jobs a scheduler runs: the daily coverage snapshot, last month's compliance
report, the weekly digest, the daily retention purge and the daily audit-log checkpoint. Each is idempotent ("do it when it is not done yet") and runs
under a database job lease, so any number of portal instances may call :func:`run_due_jobs`
on every tick and each job still runs once.

Without the in-process scheduler, cron does the same:

    5 0 * * *   audit-portal snapshots take
    30 0 1 * *  audit-portal report monthly --if-missing
    0 7 * * 1   audit-portal digest send
    15 1 * * *  audit-portal store purge && audit-portal store reconcile --remove
    30 2 * * 0  audit-portal store verify
    45 1 * * *  audit-portal audit checkpoint
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from audit_portal.clock import utcnow
from audit_portal.config import Settings
from audit_portal.db import unit_of_work
from audit_portal.portal import service as portal_settings
from audit_portal.principals import Actor
from evidence_store import ObjectStore

log = logging.getLogger(__name__)
SCHEDULER = Actor.system("scheduler")  # what the scheduled jobs record when nothing more specific applies

LEASE_TTL = timedelta(minutes=30)
DIGEST_WEEKDAY = 0  # Monday
DIGEST_HOUR = 7
LAST_DIGEST_KEY = "digest.last_sent_week"


@dataclass(frozen=True)
class JobContext:
    store: ObjectStore
    settings: Settings
    now: datetime


def _snapshots(session: Session, context: JobContext) -> bool:
    """Yesterday's snapshot once yesterday is complete, and today's so far."""
    from audit_portal.trends import repository
    from audit_portal.trends.service import take_snapshot

    today = context.now.date()
    yesterday = today - timedelta(days=1)
    done = False
    taken_yesterday = repository.of_day(session, yesterday)
    start_of_today = datetime.combine(today, time.min, tzinfo=UTC)
    if not taken_yesterday or max(row.taken_at for row in taken_yesterday) < start_of_today:
        take_snapshot(session, yesterday)
        done = True
    if not repository.of_day(session, today):
        take_snapshot(session, today)
        done = True
    return done


def _monthly_report(session: Session, context: JobContext) -> bool:
    from audit_portal.reports.service import generate_due_report

    settings = context.settings
    return (
        generate_due_report(
            session,
            context.store,
            max_bytes=settings.max_upload_bytes,
            actor=SCHEDULER,
            today=context.now.date(),
            coverage_target=settings.coverage_target_percent,
            language=settings.report_language,
        )
        is not None
    )


def _week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _weekly_digest(session: Session, context: JobContext) -> bool:
    from audit_portal.notifications.service import send_digests

    now = context.now
    if not context.settings.smtp_host or now.weekday() != DIGEST_WEEKDAY or now.hour < DIGEST_HOUR:
        return False
    week = _week_of(now.date())
    if portal_settings.get_value(session, LAST_DIGEST_KEY) == week:
        return False
    send_digests(session, context.settings, now=now, actor=SCHEDULER)
    portal_settings.set_value(session, LAST_DIGEST_KEY, week)
    return True


LAST_RETENTION_KEY = "retention.last_run"


def _retention(session: Session, context: JobContext) -> bool:
    """Once a day: remove orphaned objects older than a day (among them the objects of records
    purged the day before, now that their deletion is committed), then purge expired records."""
    from audit_portal.evidence.retention import purge_records
    from audit_portal.evidence.service import reconcile

    today = context.now.date().isoformat()
    if portal_settings.get_value(session, LAST_RETENTION_KEY) == today:
        return False
    reconcile(session, context.store, remove=True, grace=timedelta(hours=24), now=context.now)
    purge_records(session, today=context.now.date())
    portal_settings.set_value(session, LAST_RETENTION_KEY, today)
    return True


LAST_SCRUB_KEY = "store.verify.last_week"
LAST_OPTIMIZE_KEY = "database.optimize.last_day"


def _integrity_scrub(session: Session, context: JobContext) -> bool:
    """Once a week: re-hash the stored objects (all, or STORE_VERIFY_SAMPLE of them) and mark
    the evidence of damaged ones corrupted, as ``audit-portal store verify`` does."""
    from audit_portal.evidence.service import verify

    week = _week_of(context.now.date())
    if portal_settings.get_value(session, LAST_SCRUB_KEY) == week:
        return False
    report = verify(session, context.store, sample=context.settings.store_verify_sample)
    if report.problems:
        log.error("store verify: %d objects corrupted or missing", len(report.problems))
    portal_settings.set_value(session, LAST_SCRUB_KEY, week)
    return True


def _optimize_database(session: Session, context: JobContext) -> bool:
    """Once a day on SQLite: ``PRAGMA optimize`` keeps the query planner's statistics current
    (SQLite's advice for long-running applications); PostgreSQL's autovacuum does this itself."""
    from audit_portal.db import optimize

    today = context.now.date().isoformat()
    if session.get_bind().dialect.name != "sqlite" or portal_settings.get_value(session, LAST_OPTIMIZE_KEY) == today:
        return False
    optimize(session)
    portal_settings.set_value(session, LAST_OPTIMIZE_KEY, today)
    return True


LAST_AUDIT_CHECKPOINT_KEY = "audit.last_checkpoint"


def _audit_checkpoint(session: Session, context: JobContext) -> bool:
    """Once a day: a signed checkpoint of the audit log's head, kept as evidence."""
    from audit_portal.audit import repository as audit_repository
    from audit_portal.audit.checkpoints import write_checkpoint

    today = context.now.date().isoformat()
    if portal_settings.get_value(session, LAST_AUDIT_CHECKPOINT_KEY) == today:
        return False
    if audit_repository.chain_head(session).last_event_id == 0:
        return False
    write_checkpoint(session, context.store, context.settings, actor=SCHEDULER)
    portal_settings.set_value(session, LAST_AUDIT_CHECKPOINT_KEY, today)
    return True


JOBS: dict[str, Callable[[Session, JobContext], bool]] = {
    "coverage-snapshot": _snapshots,
    "monthly-report": _monthly_report,
    "weekly-digest": _weekly_digest,
    "retention": _retention,
    "integrity-scrub": _integrity_scrub,
    "database-optimize": _optimize_database,
    "audit-checkpoint": _audit_checkpoint,
}


def run_due_jobs(
    engine: Engine,
    store: ObjectStore,
    settings: Settings,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
) -> list[str]:
    """Run every management job that is due; the names of those that did something. A set
    ``stopping`` (the server shutting down) ends the pass before the next job."""
    from audit_portal.collection.service import new_holder, release_lease, take_lease

    context = JobContext(store=store, settings=settings, now=now or utcnow())
    holder = new_holder()
    done = []
    for name, job in JOBS.items():
        if stopping is not None and stopping.is_set():
            break
        lease = f"management:{name}"
        with unit_of_work(engine) as session:
            if not take_lease(session, lease, holder, LEASE_TTL):
                continue
        try:
            with unit_of_work(engine) as session:
                if job(session, context):
                    done.append(name)
        except Exception:  # one failing job (an SMTP server away) must not stop the others
            log.exception("management job %s failed", name)
        finally:
            with unit_of_work(engine) as session:
                release_lease(session, lease, holder)
    return done
