"""End to end: a scheduled run of each built-in collector, from the recorded inputs, produces its
three artifacts as evidence, its findings, and the input the coverage engine counts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from audit_portal.collection import repository, service
from audit_portal.collection.models import CollectorRun
from audit_portal.coverage.service import compute_coverage
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import EvidenceRequirement
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor
from collectors.options import HOST

RECORDINGS = Path(__file__).resolve().parents[1] / "collectors" / "recordings"
# The recordings end in the night to 2026-11-28; this is that morning, before the clock's now.
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CREATED = datetime(2026, 11, 20, tzinfo=UTC)

INSTANCES = {
    "firewall-all": (
        "firewall",
        {
            "sources": [
                {"type": "nftables", "name": "edge", "path": str(RECORDINGS / "nftables" / "edge.json")},
                {
                    "type": "iptables",
                    "name": "host-a",
                    "path": str(RECORDINGS / "iptables" / "host-a.rules"),
                    "ipv6_path": str(RECORDINGS / "iptables" / "host-a.v6.rules"),
                },
                {
                    "type": "aws",
                    "name": "aws",
                    "regions": ["eu-central-1"],
                    "path": str(RECORDINGS / "aws" / "describe_security_groups.json"),
                },
            ]
        },
    ),
    "backups": (
        "backup",
        {
            "repositories": [
                {
                    "type": "restic",
                    "name": "ams",
                    "location": "dc-ams-1",
                    "recorded": {
                        "snapshots": str(RECORDINGS / "restic" / "ams" / "snapshots.json"),
                        "check": {
                            "output": str(RECORDINGS / "restic" / "ams" / "check.txt"),
                            "exit_code": str(RECORDINGS / "restic" / "ams" / "check.exitcode"),
                        },
                    },
                },
                {
                    "type": "borg",
                    "name": "fra",
                    "location": "dc-fra-1",
                    "timezone": "Europe/Amsterdam",
                    "recorded": {
                        "list": str(RECORDINGS / "borg" / "fra" / "list.json"),
                        "check": {
                            "output": str(RECORDINGS / "borg" / "fra" / "check.txt"),
                            "exit_code": str(RECORDINGS / "borg" / "fra" / "check.exitcode"),
                        },
                    },
                },
            ]
        },
    ),
    "patches-linux": (
        "patches",
        {
            "hosts": [
                {
                    "name": "deb1",
                    "os": "debian",
                    "apt_history": [str(RECORDINGS / "apt" / "history.log*")],
                    "dpkg_log": [str(RECORDINGS / "apt" / "dpkg.log")],
                    "apt_list_upgradable": {"path": str(RECORDINGS / "apt" / "apt-list-upgradable.txt")},
                }
            ]
        },
    ),
    "tls-www": (
        "tls",
        {"targets": [{"host": "www.example.nl", "recorded": str(RECORDINGS / "tls" / "www-example-nl.json")}]},
    ),
    "accounts-web1": (
        "accounts",
        {
            "people": [{"name": "Alice", "accounts": ["alice"]}],
            "systems": [
                {
                    "type": "linux",
                    "name": "web1",
                    "passwd": str(RECORDINGS / "accounts" / "passwd"),
                    "group": str(RECORDINGS / "accounts" / "group"),
                    "shadow": str(RECORDINGS / "accounts" / "shadow.redacted"),
                    "lastlog": str(RECORDINGS / "accounts" / "lastlog.txt"),
                    "sudoers": [str(RECORDINGS / "accounts" / "sudoers")],
                    "sshd_effective": str(RECORDINGS / "accounts" / "sshd-T.hardened.txt"),
                }
            ],
        },
    ),
    "password-policy": (
        "password-policy",
        {
            "systems": [
                {
                    "type": "linux",
                    "name": "web1",
                    **{
                        field: str(RECORDINGS / "password-policy" / "debian-hardened" / name)
                        for field, name in (
                            ("login_defs", "login.defs"),
                            ("pam_password", "common-password"),
                            ("pam_auth", "common-auth"),
                            ("pwquality_conf", "pwquality.conf"),
                            ("faillock_conf", "faillock.conf"),
                        )
                    },
                }
            ]
        },
    ),
    "hardening": (
        "hardening",
        {
            "hosts": [{"name": "vm", "lynis_report": str(RECORDINGS / "lynis" / "lynis-report.run2.dat")}],
            "minimum_index": 50,
        },
    ),
}

# the monthly collectors' default schedule (the 1st) falls after CREATED..NOW; run them daily here
SCHEDULES = {"accounts-web1": "0 5 * * *", "password-policy": "0 5 * * *"}


@pytest.fixture
def instances(session, settings, catalogue):  # type: ignore[no-untyped-def]
    # Instances that read recorded files are host-managed: imported on the host, with the
    # recordings folder among the roots collectors may read.
    settings.collector_path_roots = (RECORDINGS.resolve(),)
    for name, (collector, config) in INSTANCES.items():
        spec = service.InstanceSpec(
            name=name, collector=collector, config=config, timeout_seconds=120, schedule=SCHEDULES.get(name)
        )
        instance = service.save_instance(session, spec, settings=settings, origin=HOST, actor=Actor.system("test"))
        instance.created_at = CREATED
    session.flush()


def test_a_scheduled_run_of_each_builtin_collector(session, scope, store, settings, instances):
    due = service.due_instances(session, NOW)
    assert sorted(d.name for d in due) == sorted(INSTANCES)
    for item in due:
        report = service.run_instance(
            scope, store, settings, item.name, trigger=item.trigger, now=NOW, only_if_due=True
        )
        run = session.get(CollectorRun, report.run_id)
        assert run.status == "ok", (item.name, run.error, run.log)
        assert run.trigger == "schedule"
        evidence = evidence_repository.evidence_of_run(session, run.id)
        assert sorted(e.artifact_kind for e in evidence) == ["normalised", "raw", "report"], item.name
        linked = session.exec(
            select(EvidenceRequirement).where(EvidenceRequirement.evidence_id.in_([e.id for e in evidence]))
        ).all()
        instance = service.get_instance(session, item.name)
        assert len(linked) == 3 * len(instance.requirement_list)
        findings = session.exec(select(Finding).where(Finding.collector_instance == item.name)).all()
        assert len(findings) == run.findings_count
    assert service.due_instances(session, NOW) == []

    # The firewall review found world-open admin ports (high) and so fails; backups and patches
    # each produced their evidence, so none of their requirements is missing any more.
    report = compute_coverage(
        session,
        framework_key="annex2",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 28),
        as_of=date(2026, 11, 28),
    )
    statuses = {r.key: r.status for c in report.controls for r in c.requirements}
    for collector, _config in INSTANCES.values():
        plugin = service.collector_for(collector, settings)
        for key in plugin.requirements:
            assert statuses[key] != "missing", key
    assert statuses["ACC-1/firewall"] == "failing"
    # accounts on web1 without an owner (bob, carol, ...) are high findings; the access list
    # also waits for a person's sign-off
    assert statuses["ACC-2/accounts"] == "failing"
    assert (statuses["CRY-3/tls"], statuses["ACC-4/password-policy"], statuses["OPS-4/hardening"]) == (
        "met",
        "met",
        "met",
    )
