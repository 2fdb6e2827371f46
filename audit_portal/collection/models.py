"""Collector instances (a configured collector), their runs, and the leases that keep two portal
instances from running the same job at once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

RUN_RUNNING = "running"
RUN_OK = "ok"
RUN_FAILED = "failed"
RUN_TIMED_OUT = "timed_out"
RUN_STATUSES = (RUN_RUNNING, RUN_OK, RUN_FAILED, RUN_TIMED_OUT)
UNSUCCESSFUL = (RUN_FAILED, RUN_TIMED_OUT)

TRIGGER_SCHEDULE = "schedule"
TRIGGER_MANUAL = "manual"
TRIGGER_CLI = "cli"
TRIGGER_PUSH = "push"
TRIGGER_RETRY = "retry"


class CollectorInstance(SQLModel, table=True):
    """One configured collector: which plugin, with what configuration, on what schedule.

        ``config_json`` holds the validated configuration with every secret field encrypted (see
        ``collection.secrets``); it is never shown back as stored. A ``remote`` instance runs on the
        host it inspects and pushes its results, so the scheduler leaves it alone. A ``host_managed``
    instance came from an instance file an operator imported on the host (see
    ``collectors.options``).
    """

    __tablename__ = "collector_instance"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    collector: str = Field(max_length=64, index=True)
    config_json: str = Field(sa_type=sa.Text)
    schedule: str = Field(max_length=100)
    enabled: bool = True
    remote: bool = False
    # Imported on the host with ``audit-portal collectors import``: the only kind whose
    # configuration may name free commands and files; the web may not edit it.
    host_managed: bool = False
    requirement_keys: str = Field(default="", sa_type=sa.Text)  # one key a line
    timeout_seconds: int = 600
    created_at: datetime
    updated_at: datetime

    @property
    def requirement_list(self) -> list[str]:
        return [line for line in self.requirement_keys.splitlines() if line]


class CollectorRun(SQLModel, table=True):
    __tablename__ = "collector_run"
    __table_args__ = (sa.Index("ix_collector_run_instance_started", "instance_id", "started_at"),)

    id: int = Field(default=None, primary_key=True)
    instance_id: int = Field(foreign_key="collector_instance.id")
    instance_name: str = Field(max_length=100)
    collector_version: str = Field(default="", max_length=64)
    trigger: str = Field(max_length=16)
    started_at: datetime
    finished_at: datetime | None = None
    status: str = Field(max_length=16, index=True)
    attempt: int = 1
    log: str = Field(default="", sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    next_retry_at: datetime | None = None
    findings_count: int = 0
    # sealed pushes (audit_portal.agent.seal): the nonce accepted once, the signed content digest
    # and the manifest every upload and the finish are checked against
    push_id: str | None = Field(default=None, max_length=32, unique=True, index=True)
    push_digest: str | None = Field(default=None, max_length=64)
    push_manifest: str | None = Field(default=None, sa_type=sa.Text)


class JobLease(SQLModel, table=True):
    """Who runs a job until when. Taken with one atomic upsert (see ``collection.lease``)."""

    __tablename__ = "job_lease"

    job_name: str = Field(max_length=150, primary_key=True)
    holder: str = Field(max_length=150)
    acquired_at: datetime
    expires_at: datetime


RULE_KEEP = "keep"
RULE_CHANGE = "change"
RULE_REMOVE = "remove"
RULE_DECISIONS = (RULE_KEEP, RULE_CHANGE, RULE_REMOVE)


class RuleDecision(SQLModel, table=True):
    """The reviewer's decision on one firewall rule of a run (COM-1: keep, change or remove,
    with the reason for a change or removal). ``rule_index`` is the rule's place in the run's
    normalised ``rules`` list; the label and text are copied so the decision reads on its own
    (in the evidence package too) without the stored object. A decision may be changed until the
    run is signed off; every save is an audit event."""

    __tablename__ = "rule_decision"
    __table_args__ = (sa.UniqueConstraint("run_id", "rule_index"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="collector_run.id", index=True)
    rule_index: int
    rule_label: str = Field(max_length=300)
    rule_text: str = Field(default="", sa_type=sa.Text)
    decision: str = Field(max_length=16)
    reason: str = Field(default="", sa_type=sa.Text)
    decided_by_id: int = Field(foreign_key="user_account.id")
    decided_at: datetime
