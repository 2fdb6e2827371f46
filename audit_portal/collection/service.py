"""The rules of collection: configuring instances, deciding what is due, running an instance
under its job lease, storing what a run produced, and signing runs off.

A run's life, and where each step commits (``scope`` gives one unit of work per step so other
portal instances see the lease and the running run at once):

1. take the job lease ``collector:<name>`` (one atomic upsert; see ``repository.try_take_lease``);
2. record the run as ``running``, load the configuration (secrets decrypted), the previous
   successful run's normalised result and the newest manual evidence;
3. execute the collector without any transaction open (``collectors.runner.execute``);
4. store the three artifacts through the evidence ingest and upsert the findings, inside a
   savepoint: if storing fails, nothing of it stays and the run is recorded as failed;
5. release the lease.
"""

from __future__ import annotations

import io
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml
from croniter import croniter
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.auth import repository as auth_repository
from audit_portal.catalogue import repository as catalogue_repository
from audit_portal.clock import as_utc, utcnow
from audit_portal.collection import repository
from audit_portal.collection.models import (
    RUN_FAILED,
    RUN_OK,
    RUN_RUNNING,
    TRIGGER_CLI,
    TRIGGER_MANUAL,
    TRIGGER_PUSH,
    TRIGGER_RETRY,
    TRIGGER_SCHEDULE,
    UNSUCCESSFUL,
    CollectorInstance,
    CollectorRun,
)
from audit_portal.collection.secrets import (
    MASK,
    Redactor,
    SecretUnreadable,
    masked,
    masked_stored,
    sealed,
    secret_values,
    unsealed,
)
from audit_portal.config import Settings
from audit_portal.engagements.scope import record_access
from audit_portal.errors import Conflict, Forbidden, InvalidInput, NotFound, PortalError
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence import service as evidence_service
from audit_portal.evidence.models import Evidence
from audit_portal.evidence.schemas import EvidenceMeta, EvidenceSource
from audit_portal.findings import repository as finding_repository
from audit_portal.findings.models import Finding
from audit_portal.i18n import N_
from audit_portal.principals import Actor, Principal
from collectors import registry
from collectors.base import Artifact, Collector, CollectResult, FindingDraft, Severity
from collectors.options import HOST, WEB, ConfigOrigin
from collectors.runner import STATUS_FAILED, Outcome, execute
from evidence_store import ObjectStore, StoreError

SessionScope = Callable[[], AbstractContextManager[Session]]

MAX_ATTEMPTS = 3
FIRST_RETRY_DELAY = timedelta(minutes=5)
RETRY_FACTOR = 4
LEASE_MARGIN = timedelta(minutes=5)
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
DEFAULT_TIMEOUT_SECONDS = 600
ARTIFACT_TITLES = {"raw": "raw input", "normalised": "normalised result", "report": "report"}


# --- instances ------------------------------------------------------------------------------


class InstanceSpec(BaseModel):
    """One instance as an import file or the portal's form gives it."""

    model_config = {"extra": "forbid"}

    name: str
    collector: str
    config: dict[str, Any] = {}
    schedule: str | None = None
    enabled: bool = True
    remote: bool = False
    requirements: list[str] | None = None
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS


def first_line(error: Exception) -> str:
    """The first line of a parser's (English) message, as a refusal quotes it."""
    return (str(error).splitlines() or [""])[0]


def collector_for(name: str, settings: Settings) -> Collector:
    try:
        return registry.load(name, settings.collector_allowlist)
    except registry.UnknownCollector as error:
        if error.problem:
            raise InvalidInput(
                N_("Collector '%(name)s' (%(target)s) is unusable: %(problem)s."),
                values={"name": name, "target": error.target, "problem": error.problem},
            ) from None
        if error.allowlisted:
            raise InvalidInput(
                N_("No collector '%(name)s' is installed or allowed by %(setting)s."),
                values={"name": name, "setting": registry.ALLOWLIST_VARIABLE},
            ) from None
        raise InvalidInput(N_("No collector '%(name)s' is installed."), values={"name": name}) from None


def config_origin(settings: Settings, origin: str) -> ConfigOrigin:
    """What an instance's options may name when ``origin`` (web or host) configures it: host
    files only inside the configured roots, and never the portal's own files."""
    forbidden = [settings.data_dir, settings.signing_key_file]
    if settings.is_sqlite:
        database = settings.database_url.removeprefix("sqlite:///")
        if database and not database.startswith(":memory:"):
            forbidden.append(Path(database))
    if settings.store_url.startswith("file://"):
        forbidden.append(Path(url2pathname(urlparse(settings.store_url).path)))
    return ConfigOrigin(
        origin="host" if origin == HOST else "web",
        path_roots=settings.collector_path_roots,
        forbidden=tuple(path for path in forbidden if path is not None),
    )


def validated_config(collector: Collector, raw: Mapping[str, Any], origin: ConfigOrigin | None) -> BaseModel:
    """The collector's Config from plain data; a 422 naming each wrong field (never its value,
    which may be a secret). ``origin`` says who chose the options (``collectors.options``);
    the portal always gives one, only a remote host running its own file gives None."""
    try:
        return collector.Config.model_validate(raw, context=origin)
    except ValidationError as error:
        problems = [
            {"location": "config." + ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in error.errors(include_input=False, include_url=False)
        ]
        text = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        raise InvalidInput(
            N_("The %(collector)s configuration is not valid: %(problems)s"),
            values={"collector": collector.name, "problems": text},
            errors=problems,
        ) from None


def _check_schedule(schedule: str) -> str:
    schedule = " ".join(schedule.split())
    if not croniter.is_valid(schedule):
        raise InvalidInput(
            N_("'%(schedule)s' is not a cron expression (five fields, e.g. '0 6 * * 1')."),
            values={"schedule": schedule},
        )
    return schedule


def _check_name(name: str) -> str:
    import re

    if not re.match(NAME_PATTERN, name):
        raise InvalidInput(
            N_(
                "'%(name)s' is not a usable instance name: lower-case letters, digits, '.', '_' and '-', "
                "starting with a letter or digit, at most 100 characters."
            ),
            values={"name": name},
        )
    return name


def _check_requirements(session: Session, keys: list[str]) -> list[str]:
    found = {requirement.key for requirement in catalogue_repository.requirements_by_key(session, keys).values()}
    unknown = [key for key in keys if key not in found]
    if unknown:
        raise InvalidInput(N_("Unknown requirement(s): %(keys)s."), values={"keys": ", ".join(unknown)})
    return list(dict.fromkeys(keys))


def _keep_masked_secrets(submitted: Any, stored: Any) -> Any:
    """An edit shows secrets as MASK; a MASK sent back means "keep the stored secret"."""
    if submitted == MASK:
        return stored
    if isinstance(submitted, dict) and isinstance(stored, dict):
        return {key: _keep_masked_secrets(value, stored.get(key)) for key, value in submitted.items()}
    if isinstance(submitted, list) and isinstance(stored, list):
        return [
            _keep_masked_secrets(value, stored[index] if index < len(stored) else None)
            for index, value in enumerate(submitted)
        ]
    return submitted


def save_instance(
    session: Session,
    spec: InstanceSpec,
    *,
    settings: Settings,
    origin: str = WEB,
    actor: Actor,
) -> CollectorInstance:
    """Create the instance, or update the one of that name. Secrets are encrypted before they
    are stored; a config of a remote instance is kept only as documentation of what it runs.

    ``origin`` is who configures it: ``web`` (the pages and the API) may choose only what the
    collector declares safe; ``host`` (an instance file imported on the host) may also name
    commands and files inside the configured roots, and makes the instance host-managed, which
    the web may then not edit."""
    secret_key = settings.ensure_secret_key()
    name = _check_name(spec.name.strip())
    collector = collector_for(spec.collector, settings)
    schedule = _check_schedule(spec.schedule or collector.default_schedule)
    requirement_keys = _check_requirements(session, spec.requirements or list(collector.requirements))
    if not 10 <= spec.timeout_seconds <= 24 * 3600:
        raise InvalidInput(N_("timeout_seconds must be between 10 and 86400."))
    existing = repository.instance_by_name(session, name)
    submitted = spec.config
    if existing is not None:
        if existing.host_managed and origin != HOST:
            raise Conflict(
                N_(
                    "Instance '%(name)s' is managed on the host: change its instance file there and "
                    "import it again (audit-portal collectors import)."
                ),
                values={"name": name},
            )
        if existing.collector != collector.name:
            raise Conflict(
                N_("Instance '%(name)s' runs '%(collector)s'; its type cannot change."),
                values={"name": name, "collector": existing.collector},
            )
        submitted = _keep_masked_secrets(submitted, unsealed(json.loads(existing.config_json), secret_key))
    config = validated_config(collector, submitted, config_origin(settings, origin))
    now = utcnow()
    instance = existing or CollectorInstance(
        name=name, collector=collector.name, config_json="{}", schedule=schedule, created_at=now, updated_at=now
    )
    instance.config_json = json.dumps(sealed(config, secret_key), sort_keys=True)
    instance.schedule = schedule
    instance.enabled = spec.enabled
    instance.remote = spec.remote
    instance.host_managed = origin == HOST
    instance.requirement_keys = "\n".join(requirement_keys)
    instance.timeout_seconds = spec.timeout_seconds
    instance.updated_at = now
    repository.add(session, instance)
    record_event(
        session,
        actor=actor,
        action="collector.create" if existing is None else "collector.update",
        object_type="collector_instance",
        object_id=name,
        detail={
            "collector": collector.name,
            "schedule": schedule,
            "enabled": spec.enabled,
            "remote": spec.remote,
            "host_managed": origin == HOST,
            "requirements": requirement_keys,
            "config": masked(config),
        },
    )
    return instance


def parse_instance_file(text: str) -> list[InstanceSpec]:
    """A YAML list of instances (or a mapping with an ``instances`` list)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(
            N_("The file is not valid YAML: %(problem)s"), values={"problem": first_line(error)}
        ) from None
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    if not isinstance(data, list) or not data:
        raise InvalidInput(N_("The file must hold a list of collector instances."))
    specs = []
    for position, item in enumerate(data, start=1):
        try:
            specs.append(InstanceSpec.model_validate(item))
        except ValidationError as error:
            first = error.errors(include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "entry"
            raise InvalidInput(
                N_("Instance %(position)s: %(where)s: %(problem)s."),
                values={"position": position, "where": where, "problem": first["msg"]},
            ) from None
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(N_("Instance names repeat in the file: %(names)s."), values={"names": ", ".join(repeated)})
    return specs


def import_instances(session: Session, text: str, *, settings: Settings, actor: Actor) -> list[CollectorInstance]:
    """An operator's instance file, on the host: the instances become host-managed."""
    return [
        save_instance(session, spec, settings=settings, origin=HOST, actor=actor) for spec in parse_instance_file(text)
    ]


def get_instance(session: Session, name: str) -> CollectorInstance:
    instance = repository.instance_by_name(session, name)
    if instance is None:
        raise NotFound(N_("There is no collector instance '%(name)s'."), values={"name": name})
    return instance


def config_of(instance: CollectorInstance, collector: Collector, settings: Settings) -> BaseModel:
    """The stored configuration, validated again under the instance's origin: a run refuses a
    file that moved out of the roots (or became a symlink) since the import, and an instance
    saved from the web before these rules with a command of its own."""
    origin = config_origin(settings, HOST if instance.host_managed else WEB)
    return validated_config(collector, unsealed(json.loads(instance.config_json), settings.ensure_secret_key()), origin)


def shown_config(instance: CollectorInstance) -> str:
    """The configuration as pages show it: YAML with every secret masked."""
    return yaml.safe_dump(masked_stored(json.loads(instance.config_json)), sort_keys=False, allow_unicode=True)


def set_enabled(session: Session, name: str, enabled: bool, *, actor: Actor) -> CollectorInstance:
    instance = get_instance(session, name)
    instance.enabled = enabled
    instance.updated_at = utcnow()
    session.flush()
    record_event(
        session,
        actor=actor,
        action="collector.update",
        object_type="collector_instance",
        object_id=name,
        detail={"enabled": enabled},
    )
    return instance


# --- schedules ------------------------------------------------------------------------------


def next_run_at(instance: CollectorInstance, last: CollectorRun | None) -> datetime | None:
    """When the scheduler will next run the instance (a due retry comes first)."""
    if not instance.enabled or instance.remote:
        return None
    if last is not None and last.status in UNSUCCESSFUL and last.next_retry_at is not None:
        return as_utc(last.next_retry_at)
    base = as_utc(last.started_at) if last is not None else as_utc(instance.created_at)
    return croniter(instance.schedule, base).get_next(datetime)


@dataclass(frozen=True)
class Due:
    name: str
    trigger: str


def due_now(instance: CollectorInstance, last: CollectorRun | None, now: datetime) -> Due | None:
    if last is not None and last.status == RUN_RUNNING:
        # A run of a process that died stays "running"; once it is long past its lease, the
        # schedule goes on (the next run marks it failed).
        if as_utc(last.started_at) + _abandoned_after(instance) > now:
            return None
        return Due(instance.name, TRIGGER_SCHEDULE)
    moment = next_run_at(instance, last)
    if moment is None or moment > now:
        return None
    retry = last is not None and last.status in UNSUCCESSFUL and last.next_retry_at is not None
    return Due(instance.name, TRIGGER_RETRY if retry else TRIGGER_SCHEDULE)


def due_instances(session: Session, now: datetime | None = None) -> list[Due]:
    now = now or utcnow()
    instances = [i for i in repository.instances(session) if i.enabled and not i.remote]
    latest = repository.latest_runs(session, [i.id for i in instances if i.id is not None])
    found = [due_now(instance, latest.get(instance.id), now) for instance in instances]
    return [due for due in found if due is not None]


def retry_delay(attempt: int) -> timedelta:
    return FIRST_RETRY_DELAY * (RETRY_FACTOR ** (attempt - 1))


# --- leases ---------------------------------------------------------------------------------


def new_holder() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def job_name(instance_name: str) -> str:
    return f"collector:{instance_name}"


def take_lease(session: Session, job: str, holder: str, ttl: timedelta) -> bool:
    now = utcnow()
    taken = repository.try_take_lease(session, job_name=job, holder=holder, now=now, expires_at=now + ttl)
    session.flush()
    return taken


def release_lease(session: Session, job: str, holder: str) -> None:
    repository.drop_lease(session, job_name=job, holder=holder)
    session.flush()


# --- running --------------------------------------------------------------------------------


@dataclass
class Prepared:
    run_id: int
    instance_name: str
    collector: Collector | None
    config: BaseModel | None
    timeout_seconds: int
    previous: Mapping[str, Any] | None = None
    manual_evidence: Mapping[str, datetime] = field(default_factory=dict)
    problem: str | None = None

    @property
    def redactor(self) -> Redactor:
        return Redactor(secret_values(self.config) if self.config is not None else [])


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_instance` did: ``run_id`` None means it did not run (``reason``)."""

    run_id: int | None
    status: str | None
    reason: str = ""


def run_instance(
    scope: SessionScope,
    store: ObjectStore,
    settings: Settings,
    instance_name: str,
    *,
    trigger: str = TRIGGER_CLI,
    now: datetime | None = None,
    only_if_due: bool = False,
) -> RunReport:
    """Run one instance under its job lease; see the module docstring for the steps. ``now``
    is the moment the collector is told it is (default: the clock)."""
    moment = now or utcnow()
    holder = new_holder()
    job = job_name(instance_name)
    with scope() as session:
        instance = get_instance(session, instance_name)
        if instance.remote:
            raise InvalidInput(
                N_("'%(name)s' is a remote instance: it runs on its host and pushes its results."),
                values={"name": instance_name},
            )
        ttl = timedelta(seconds=instance.timeout_seconds) + LEASE_MARGIN
        if not take_lease(session, job, holder, ttl):
            return RunReport(None, None, f"{instance_name} is running elsewhere (its job lease is held)")
        if only_if_due:
            due = due_now(instance, repository.latest_run(session, instance.id), moment)
            if due is None:
                release_lease(session, job, holder)
                return RunReport(None, None, f"{instance_name} is not due (another instance ran it)")
            trigger = due.trigger
    outcome: Outcome | None = None
    try:
        with scope() as session:
            prepared = prepare(
                session, store, settings, get_instance(session, instance_name), now=moment, trigger=trigger
            )
        if prepared.problem is None:
            assert prepared.collector is not None
            outcome = execute(
                prepared.collector,
                prepared.config,
                instance_name=instance_name,
                now=moment,
                timeout_seconds=prepared.timeout_seconds,
                previous=prepared.previous,
                manual_evidence=prepared.manual_evidence,
                work_root=settings.data_dir / "collector-work",
            )
        else:
            outcome = Outcome(STATUS_FAILED, moment, moment, "", prepared.problem)
        with scope() as session:
            run = record_outcome(session, store, settings, prepared, outcome)
        return RunReport(run.id, run.status)
    finally:
        if outcome is not None:
            outcome.discard_workdir()
        with scope() as session:
            release_lease(session, job, holder)


def prepare(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    instance: CollectorInstance,
    *,
    now: datetime,
    trigger: str,
) -> Prepared:
    """Record the run as running and gather what the collector is handed."""
    assert instance.id is not None
    _abandon_stale_runs(session, instance)
    last = repository.latest_run(session, instance.id)
    attempt = last.attempt + 1 if last is not None and last.status in UNSUCCESSFUL else 1
    if last is not None:
        last.next_retry_at = None  # this run is the retry; the older run no longer waits for one
    run = CollectorRun(
        instance_id=instance.id,
        instance_name=instance.name,
        trigger=trigger,
        started_at=now,
        status=RUN_RUNNING,
        attempt=attempt,
    )
    repository.add(session, run)
    assert run.id is not None
    prepared = Prepared(run.id, instance.name, None, None, instance.timeout_seconds)
    try:
        collector = registry.load(instance.collector, settings.collector_allowlist)
        run.collector_version = str(collector.version)[:64]
        prepared.collector = collector
        prepared.config = config_of(instance, collector, settings)
    except (registry.UnknownCollector, SecretUnreadable) as error:
        prepared.problem = str(error)
        return prepared
    except InvalidInput as error:
        prepared.problem = error.detail
        return prepared
    prepared.previous = previous_normalised(session, store, instance)
    prepared.manual_evidence = newest_manual_evidence(session)
    session.flush()
    return prepared


def _abandoned_after(instance: CollectorInstance) -> timedelta:
    return timedelta(seconds=instance.timeout_seconds) + LEASE_MARGIN


def _abandon_stale_runs(session: Session, instance: CollectorInstance) -> None:
    """A run still 'running' long after its lease expired belonged to a process that died."""
    now = utcnow()
    for run in repository.running_runs(session, instance.id):
        if as_utc(run.started_at) + _abandoned_after(instance) < now:
            run.status = RUN_FAILED
            run.finished_at = now
            run.error = "the process running this collector stopped before it finished"


def newest_manual_evidence(session: Session) -> dict[str, datetime]:
    """Requirement key -> newest collected_at of its live evidence, for every manual requirement."""
    manual = catalogue_repository.manual_requirements(session)
    newest = evidence_repository.newest_evidence_of_requirements(session, manual)
    return {manual[requirement_id]: collected_at for requirement_id, collected_at in newest.items()}


def previous_normalised(session: Session, store: ObjectStore, instance: CollectorInstance) -> Mapping[str, Any] | None:
    """The normalised result of the newest successful run, read back from the store."""
    last_ok = repository.latest_run(session, instance.id, status=RUN_OK)
    if last_ok is None:
        return None
    return read_normalised(store, evidence_repository.normalised_evidence(session, last_ok.id))


MAX_PREVIOUS_BYTES = 64 * 1024 * 1024


def read_normalised(store: ObjectStore, evidence: Evidence | None) -> Mapping[str, Any] | None:
    """A stored normalised result as data; None when it is missing or unreadable, so the
    collector starts a new baseline instead of failing."""
    if evidence is None:
        return None
    try:
        with store.open(evidence.store_key) as stream:
            data = stream.read(MAX_PREVIOUS_BYTES + 1)
        if len(data) > MAX_PREVIOUS_BYTES:
            return None
        loaded = json.loads(data)
    except (StoreError, OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def record_outcome(
    session: Session, store: ObjectStore, settings: Settings, prepared: Prepared, outcome: Outcome
) -> CollectorRun:
    run = repository.get_run(session, prepared.run_id)
    instance = get_instance(session, prepared.instance_name)
    assert run is not None
    redactor = prepared.redactor
    run.finished_at = outcome.finished_at
    run.log = redactor.text(outcome.log)
    run.status = outcome.status
    run.error = redactor.text(outcome.error) if outcome.error else None
    if outcome.ok:
        assert outcome.result is not None
        try:
            with session.begin_nested():
                evidence = store_artifacts(session, store, settings, instance, run, outcome.result, redactor)
                report = next(item for item in evidence if item.artifact_kind == "report")
                run.findings_count = upsert_findings(
                    session,
                    instance,
                    run,
                    outcome.result.findings,
                    redactor,
                    evidence_id=report.id,
                    now=outcome.started_at,
                )
        except (PortalError, StoreError, OSError) as error:
            detail = error.detail if isinstance(error, PortalError) else str(error)
            run.status = RUN_FAILED
            run.error = redactor.text(f"storing the run's results failed: {detail}")
            run.log += f"storing the results failed: {run.error}\n"
    if run.status in UNSUCCESSFUL and run.attempt < MAX_ATTEMPTS:
        run.next_retry_at = as_utc(run.finished_at) + retry_delay(run.attempt)
    session.flush()
    return run


def _artifact_stream(artifact: Artifact, redactor: Redactor) -> io.BufferedIOBase:
    if artifact.path is not None:
        # The raw input stays exactly as collected; a collector never writes config into it.
        return open(artifact.path, "rb")
    data = artifact.data or b""
    return io.BytesIO(redactor.data(data) if artifact.kind != "raw" else data)


def store_artifacts(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    instance: CollectorInstance,
    run: CollectorRun,
    result: CollectResult,
    redactor: Redactor,
) -> list[Evidence]:
    stored = []
    for artifact in sorted(result.artifacts, key=lambda a: ("raw", "normalised", "report").index(a.kind)):
        meta = EvidenceMeta(
            title=f"{instance.name}: {ARTIFACT_TITLES[artifact.kind]} {as_utc(run.started_at):%Y-%m-%d %H:%M} UTC",
            description=f"Collector {instance.collector} {run.collector_version}, run {run.id}.",
            collected_at=run.started_at,
            requirements=instance.requirement_list,
            artifact_kind=artifact.kind,
        )
        with _artifact_stream(artifact, redactor) as stream:
            stored.append(
                evidence_service.ingest(
                    session,
                    store,
                    stream=stream,
                    filename=artifact.filename,
                    meta=meta,
                    source=EvidenceSource.collector(instance.name, run.id),
                    max_bytes=settings.max_upload_bytes,
                    retention_years=settings.retention_years_after_cycle,
                )
            )
    return stored


def upsert_findings(
    session: Session,
    instance: CollectorInstance,
    run: CollectorRun,
    drafts: Iterable[FindingDraft],
    redactor: Redactor,
    *,
    evidence_id: int | None,
    now: datetime,
) -> int:
    """New keys open a finding; keys still present move to this run; keys gone are closed."""
    existing = {finding.key: finding for finding in finding_repository.unclosed_findings(session, instance.name)}
    control_ids = {
        r.control_id for r in catalogue_repository.requirements_by_key(session, instance.requirement_list).values()
    }
    seen: set[str] = set()
    for draft in drafts:
        seen.add(draft.key)
        detail = redactor.text(
            f"{draft.subject}: {draft.detail}" if draft.subject and draft.detail else draft.detail or draft.subject
        )
        finding = existing.get(draft.key)
        if finding is None:
            finding = Finding(
                source="collector",
                key=draft.key,
                title=redactor.text(draft.title)[:300],
                severity=Severity(draft.severity).value,
                status="open",
                collector_instance=instance.name,
                first_run_id=run.id,
                created_at=now,
                created_by=f"collector:{instance.name}"[:100],
            )
        finding.last_run_id = run.id
        finding.title = redactor.text(draft.title)[:300]
        finding.detail = detail or None
        finding.severity = Severity(draft.severity).value
        finding.evidence_id = evidence_id
        new = finding.id is None
        repository.add(session, finding)
        if new:
            finding_repository.link_finding_controls(session, finding.id, control_ids)
    for key, finding in existing.items():
        if key not in seen:
            finding.status = "closed"
            finding.closed_at = now
            finding.corrective_action = finding.corrective_action or f"No longer seen by run {run.id}."
    session.flush()
    return len(seen)


# --- the portal's actions -------------------------------------------------------------------


def run_now(
    session: Session,
    store: ObjectStore,
    settings: Settings,
    name: str,
    *,
    actor: Actor,
) -> RunReport:
    """ "Run now" from the portal: the run happens in the request, under the instance's lease,
    bounded by its timeout. The request's own transaction carries every step."""
    instance = get_instance(session, name)
    record_event(
        session,
        actor=actor,
        action="collector.run",
        object_type="collector_instance",
        object_id=instance.name,
    )

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    report = run_instance(same_session, store, settings, name, trigger=TRIGGER_MANUAL)
    if report.run_id is None:
        raise Conflict(N_("%(name)s is already running; wait for that run to finish."), values={"name": name})
    return report


def record_view(session: Session, *, actor: Actor, object_type: str, object_id: str | int) -> None:
    """Every access by an auditor is an audit event."""
    record_access(
        session,
        actor=actor,
        action=f"{object_type}.view",
        object_type=object_type,
        object_id=object_id,
    )


def spec_from_form(values: Mapping[str, str]) -> InstanceSpec:
    """The instance form's fields (config as YAML) as an :class:`InstanceSpec`."""
    try:
        config = yaml.safe_load(values.get("config") or "") or {}
    except yaml.YAMLError as error:
        raise InvalidInput(
            N_("The configuration is not valid YAML: %(problem)s"), values={"problem": first_line(error)}
        ) from None
    if not isinstance(config, dict):
        raise InvalidInput(N_("The configuration must be a YAML mapping (key: value lines)."))
    timeout = (values.get("timeout_seconds") or "").strip()
    if timeout and not timeout.isdigit():
        raise InvalidInput(N_("The timeout must be a whole number of seconds."))
    requirements = [
        line.strip() for line in (values.get("requirements") or "").replace(",", "\n").splitlines() if line.strip()
    ]
    return InstanceSpec(
        name=(values.get("name") or "").strip(),
        collector=(values.get("collector") or "").strip(),
        config=config,
        schedule=(values.get("schedule") or "").strip() or None,
        enabled=values.get("enabled") == "yes",
        remote=values.get("remote") == "yes",
        requirements=requirements or None,
        timeout_seconds=int(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS,
    )


def signer_names(session: Session, detail: Any) -> dict[int, str]:
    """User id -> user name of the people who signed off the run's evidence."""
    ids = sorted({signoff.signed_by_id for signoff in detail.signoffs.values()})
    return auth_repository.usernames(session, ids) if ids else {}


def decider_names(session: Session, rules: Any) -> dict[int, str]:
    """User id -> user name of the people who decided on the rules of a firewall review."""
    ids = sorted({rule.decision.decided_by_id for rule in rules if rule.decision is not None})
    return auth_repository.usernames(session, ids) if ids else {}


# --- remote runs (pushed by a collector on the host it inspects) ----------------------------


def _pushable_instance(session: Session, principal: Principal, name: str) -> CollectorInstance:
    if not principal.may_push_for(name):
        raise Forbidden(N_("This token may not push for '%(name)s'."), values={"name": name})
    return get_instance(session, name)


def open_remote_run(session: Session, body: Any, *, actor: Actor) -> Any:
    principal = actor.principal
    from audit_portal.collection import sealed
    from audit_portal.collection.schemas import RemoteRunOpened

    instance = _pushable_instance(session, principal, body.instance)
    if body.collector != instance.collector:
        raise InvalidInput(
            N_("%(name)s is a %(collector)s instance, not %(pushed)s."),
            values={"name": instance.name, "collector": instance.collector, "pushed": body.collector},
        )
    started_at = as_utc(body.started_at)
    if started_at > utcnow() + timedelta(minutes=5):
        raise InvalidInput(N_("started_at lies in the future."))
    sealed.checked_manifest(session, body, principal)
    resumed = sealed.earlier_push(session, body)
    if resumed is not None:  # an interrupted delivery of the same push goes on where it stopped
        return RemoteRunOpened(
            run_id=resumed.id,
            instance=instance.name,
            status=resumed.status,
            requirements=instance.requirement_list,
            artifacts_received=sealed.received_kinds(session, resumed.id),
        )
    last = repository.latest_run(session, instance.id)
    run = CollectorRun(
        instance_id=instance.id,
        instance_name=instance.name,
        trigger=TRIGGER_PUSH,
        started_at=started_at,
        status=RUN_RUNNING,
        collector_version=body.collector_version,
        attempt=last.attempt + 1 if last is not None and last.status in UNSUCCESSFUL else 1,
    )
    sealed.seal_run(run, body)
    repository.add(session, run)
    record_event(
        session,
        actor=actor,
        action="collector_run.open",
        object_type="collector_run",
        object_id=run.id,
        detail={"instance": instance.name},
    )
    return RemoteRunOpened(
        run_id=run.id, instance=instance.name, status=run.status, requirements=instance.requirement_list
    )


def finish_remote_run(session: Session, run_id: int, body: Any, *, actor: Actor) -> Any:
    principal = actor.principal
    from audit_portal.collection.schemas import RemoteRunOpened

    run = repository.get_run(session, run_id)
    if run is None:
        raise NotFound(N_("There is no collector run %(id)s."), values={"id": run_id})
    instance = _pushable_instance(session, principal, run.instance_name)
    if run.trigger != TRIGGER_PUSH or run.status != RUN_RUNNING:
        raise Conflict(
            N_("Run %(id)s is not an open remote run (status %(status)s)."), values={"id": run_id, "status": run.status}
        )
    finished_at = as_utc(body.finished_at)
    if finished_at < as_utc(run.started_at):
        raise InvalidInput(N_("finished_at lies before the run started."))
    from audit_portal.collection import sealed

    sealed.check_finish(
        run,
        body,
        {
            item.artifact_kind: item.sha256
            for item in evidence_repository.evidence_of_run(session, run_id)
            if item.artifact_kind
        },
    )
    run.finished_at = finished_at
    run.log = body.log
    run.error = body.error
    run.status = body.status
    if body.status == RUN_OK:
        evidence = {item.artifact_kind: item for item in evidence_repository.evidence_of_run(session, run_id)}
        missing = [kind for kind in ARTIFACT_TITLES if kind not in evidence]
        if missing:
            raise InvalidInput(
                N_("Push the %(kinds)s artifact(s) of run %(id)s before finishing it as ok."),
                values={"kinds": ", ".join(missing), "id": run_id},
            )
        drafts = [
            FindingDraft(key=f.key, title=f.title, severity=Severity(f.severity), detail=f.detail, subject=f.subject)
            for f in body.findings
        ]
        if len({draft.key for draft in drafts}) != len(drafts):
            raise InvalidInput(N_("Finding keys must be unique within a run."))
        run.findings_count = upsert_findings(
            session, instance, run, drafts, Redactor([]), evidence_id=evidence["report"].id, now=as_utc(run.started_at)
        )
    session.flush()
    record_event(
        session,
        actor=actor,
        action="collector_run.finish",
        object_type="collector_run",
        object_id=run_id,
        detail={"instance": instance.name, "status": run.status, "findings": run.findings_count},
    )
    return RemoteRunOpened(
        run_id=run_id, instance=instance.name, status=run.status, requirements=instance.requirement_list
    )
