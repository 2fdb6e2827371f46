"""From parsed records to the normalised host summary, the findings and the diff against the
previous run. Pure functions: no I/O, ``now`` is always passed in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from collectors.base import FindingDraft, Severity
from collectors.patches.models import (
    AptTransaction,
    DpkgEvent,
    HotFix,
    PendingUpdate,
    UnattendedRun,
)

_UPGRADE_ACTIONS = frozenset({"upgrade"})


@dataclass
class HostRecords:
    """Everything parsed for one host; ``pending`` is None when pending updates were not
    checked (no apt list / apt-get -s input), which is different from "none pending"."""

    transactions: list[AptTransaction] = field(default_factory=list)
    dpkg_events: list[DpkgEvent] = field(default_factory=list)
    pending: list[PendingUpdate] | None = None
    unattended_runs: list[UnattendedRun] = field(default_factory=list)
    hotfixes: list[HotFix] = field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    security_pending_days: int
    max_days_without_upgrade: int


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def unique_transactions(transactions: Iterable[AptTransaction]) -> list[AptTransaction]:
    """Drop repeated blocks (the same history read from a log and a copy of it) and sort."""
    unique: dict[tuple[Any, ...], AptTransaction] = {}
    for transaction in transactions:
        key = (transaction.started, transaction.commandline, transaction.changes)
        unique.setdefault(key, transaction)
    return sorted(unique.values(), key=lambda transaction: transaction.started)


def merge_pending(*sources: Sequence[PendingUpdate] | None) -> list[PendingUpdate] | None:
    """Union of apt list and apt-get -s results; a package is a security update when either
    source says it comes from a -security archive."""
    if all(source is None for source in sources):
        return None
    merged: dict[str, PendingUpdate] = {}
    for source in sources:
        for update in source or ():
            known = merged.get(update.package)
            if known is None:
                merged[update.package] = update
            elif update.security and not known.security:
                merged[update.package] = PendingUpdate(
                    package=known.package,
                    version=known.version,
                    current_version=known.current_version,
                    arch=known.arch,
                    archives=known.archives + update.archives,
                )
    return sorted(merged.values(), key=lambda update: update.package)


def debian_changes(records: HostRecords, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Package changes from apt history plus the dpkg.log changes apt did not record
    (``dpkg -i``, or history rotated away earlier than dpkg.log)."""
    changes: list[dict[str, Any]] = []
    recorded: set[tuple[str, str, str]] = set()
    for transaction in records.transactions:
        if transaction.simulated:
            continue
        for change in transaction.changes:
            recorded.add(_match_key(change.action, change.package, change.version))
            changes.append(
                {
                    "at": iso(to_utc(transaction.started, zone)),
                    "action": change.action,
                    "package": change.package,
                    "arch": change.arch,
                    "version": change.version,
                    "old_version": change.old_version,
                    "automatic": change.automatic,
                    "via": "apt",
                    "commandline": transaction.commandline,
                }
            )
    for event in records.dpkg_events:
        version = event.new_version if event.action in ("install", "upgrade") else event.old_version
        if event.action == "upgrade" and event.old_version == event.new_version:
            continue  # a reinstall: not a change of what is installed
        if _match_key(event.action, event.package, version or "") in recorded:
            continue
        changes.append(
            {
                "at": iso(to_utc(event.at, zone)),
                "action": event.action,
                "package": event.package,
                "arch": event.arch,
                "version": version,
                "old_version": event.old_version if event.action == "upgrade" else None,
                "automatic": False,
                "via": "dpkg",
                "commandline": "",
            }
        )
    return sorted(changes, key=lambda change: (change["at"], change["package"]))


def _match_key(action: str, package: str, version: str) -> tuple[str, str, str]:
    family = {"downgrade": "upgrade", "reinstall": "upgrade", "purge": "remove"}.get(action, action)
    return family, package, version


def windows_changes(records: HostRecords, zone: ZoneInfo) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "at": iso(to_utc(hotfix.installed_on, zone)) if hotfix.installed_on else None,
                "action": "install",
                "package": hotfix.hotfix_id,
                "arch": "",
                "version": hotfix.description,
                "old_version": None,
                "automatic": False,
                "via": "hotfix",
                "commandline": hotfix.installed_by,
                "security": hotfix.security,
            }
            for hotfix in records.hotfixes
        ),
        key=lambda change: (change["at"] or "", change["package"]),
    )


def last_upgrade(changes: Iterable[Mapping[str, Any]], os_name: str) -> datetime | None:
    """Newest patching activity: an upgrade on Debian, any installed hotfix on Windows."""
    moments = [
        datetime.fromisoformat(change["at"])
        for change in changes
        if change["at"] and (os_name == "windows" or change["action"] in _UPGRADE_ACTIONS)
    ]
    return max(moments, default=None)


def pending_summary(
    pending: Sequence[PendingUpdate], previous_host: Mapping[str, Any] | None, now: datetime
) -> list[dict[str, Any]]:
    """Each pending update with ``first_seen``: carried over from the previous run for the
    same package and version, else now."""
    seen_before = {
        (item["package"], item["version"]): item["first_seen"] for item in (previous_host or {}).get("pending") or ()
    }
    summary: list[dict[str, Any]] = []
    for update in pending:
        earlier = seen_before.get((update.package, update.version))
        first_seen = datetime.fromisoformat(earlier) if earlier else now
        summary.append(
            {
                "package": update.package,
                "version": update.version,
                "current_version": update.current_version,
                "arch": update.arch,
                "archives": list(update.archives),
                "security": update.security,
                "first_seen": iso(first_seen),
                "days_pending": max((now - first_seen).days, 0),
            }
        )
    return summary


def unattended_summary(runs: Sequence[UnattendedRun], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "started": iso(to_utc(run.started, zone)),
            "dry_run": run.dry_run,
            "outcome": run.outcome,
            "packages": len(run.packages),
            "errors": list(run.errors),
        }
        for run in runs
    ]


def summarise_host(
    *,
    os_name: str,
    zone: ZoneInfo,
    records: HostRecords,
    previous_host: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    changes = windows_changes(records, zone) if os_name == "windows" else debian_changes(records, zone)
    newest = last_upgrade(changes, os_name)
    pending = None if records.pending is None else pending_summary(records.pending, previous_host, now)
    return {
        "os": os_name,
        "timezone": zone.key,
        "changes": changes,
        "simulated_transactions_ignored": sum(t.simulated for t in records.transactions),
        "unfinished_transactions": sum(t.ended is None for t in records.transactions),
        "failed_transactions": sum(bool(t.error) for t in records.transactions),
        "last_upgrade_at": iso(newest),
        "days_since_upgrade": None if newest is None else max((now - newest).days, 0),
        "pending_checked": pending is not None,
        "pending": pending or [],
        "unattended_upgrades": unattended_summary(records.unattended_runs, zone),
    }


def host_findings(name: str, host: Mapping[str, Any], policy: Policy) -> list[FindingDraft]:
    findings: list[FindingDraft] = []
    overdue = [
        item for item in host["pending"] if item["security"] and item["days_pending"] > policy.security_pending_days
    ]
    if overdue:
        listed = ", ".join(f"{item['package']} {item['version']} ({item['days_pending']} d)" for item in overdue)
        findings.append(
            FindingDraft(
                key=f"security-updates-overdue:{name}",
                title=(
                    f"{len(overdue)} security update(s) pending longer than "
                    f"{policy.security_pending_days} days on {name}"
                ),
                severity=Severity.high,
                detail=(
                    f"Urgent security patches are to be scheduled at once (OPS-2). Pending since first seen: {listed}."
                ),
                subject=name,
            )
        )
    days = host["days_since_upgrade"]
    if days is None or days > policy.max_days_without_upgrade:
        when = (
            "no upgrade is recorded in the logs read"
            if days is None
            else f"the last upgrade was {days} days ago ({host['last_upgrade_at']})"
        )
        findings.append(
            FindingDraft(
                key=f"no-recent-upgrade:{name}",
                title=f"{name} not upgraded within {policy.max_days_without_upgrade} days",
                severity=Severity.medium,
                detail=f"Infrastructure is to be updated regularly (OPS-2); {when}.",
                subject=name,
            )
        )
    return findings


def _change_key(change: Mapping[str, Any]) -> tuple[Any, ...]:
    return (change["at"], change["action"], change["package"], change["version"], change["via"])


def diff_against_previous(
    hosts: Mapping[str, Mapping[str, Any]],
    finding_keys: Sequence[str],
    previous: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """What changed since the previous run; None on the first run."""
    if not previous:
        return None
    previous_hosts: Mapping[str, Any] = previous.get("hosts") or {}
    previous_findings = set(previous.get("finding_keys") or ())
    return {
        "previous_collected_at": previous.get("collected_at"),
        "hosts_added": sorted(set(hosts) - set(previous_hosts)),
        "hosts_removed": sorted(set(previous_hosts) - set(hosts)),
        "findings_opened": sorted(set(finding_keys) - previous_findings),
        "findings_closed": sorted(previous_findings - set(finding_keys)),
        "hosts": {
            name: _host_diff(host, previous_hosts[name])
            for name, host in sorted(hosts.items())
            if name in previous_hosts
        },
    }


def _host_diff(host: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    def pending_ids(summary: Mapping[str, Any]) -> set[tuple[str, str]]:
        return {(item["package"], item["version"]) for item in summary.get("pending") or ()}

    known_changes = {_change_key(change) for change in before.get("changes") or ()}
    return {
        "new_changes": [c for c in host["changes"] if _change_key(c) not in known_changes],
        "pending_new": sorted(pending_ids(host) - pending_ids(before)),
        "pending_gone": sorted(pending_ids(before) - pending_ids(host)),
        "last_upgrade_before": before.get("last_upgrade_at"),
        "last_upgrade_now": host["last_upgrade_at"],
    }
