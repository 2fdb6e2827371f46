"""Judging what the backup tools reported: staleness against the RPO, checks, the number of
physical locations holding a recent backup, and the age of the last restore test.

Everything here is pure: observations and a policy in, the normalised summary and findings out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collectors.backup.parsers import Backup, CheckResult, RepositoryStats, utc
from collectors.base import FindingDraft, Severity

RESTORE_TEST_REQUIREMENT = "BCM-1/restore-test"


@dataclass(frozen=True)
class Policy:
    rpo: timedelta
    restore_test_interval: timedelta
    minimum_locations: int
    # BCM-1: how old the newest check that read the data back (or restore test) may be
    data_check_interval: timedelta = timedelta(days=2)


@dataclass
class Observation:
    """What was read about one repository (or S3 bucket), already parsed."""

    repository: str
    type: str
    location: str
    mode: str  # "recorded" or "live"
    backups: Sequence[Backup]
    checks: Sequence[CheckResult] = ()
    stats: RepositoryStats | None = None
    # Groups that must hold a backup even if none was seen (configured S3 prefixes).
    expected_groups: Sequence[str] = ()
    sources: Mapping[str, str] = field(default_factory=dict)  # raw member -> where it came from


@dataclass(frozen=True)
class Assessment:
    normalised: dict[str, Any]
    findings: list[FindingDraft]


def _iso(moment: datetime | None) -> str | None:
    return utc(moment).isoformat() if moment is not None else None


def _age_hours(moment: datetime, now: datetime) -> float:
    return round((now - moment).total_seconds() / 3600, 1)


def _group_summary(backups: Sequence[Backup], now: datetime, rpo: timedelta) -> dict[str, Any]:
    if not backups:
        return {"count": 0, "newest": None, "newest_label": None, "age_hours": None, "fresh": False}
    # Ties (objects uploaded in the same second) are broken by id so reruns agree.
    newest = max(backups, key=lambda backup: (backup.time, backup.id))
    return {
        "count": len(backups),
        "newest": _iso(newest.time),
        "newest_label": newest.label,
        "age_hours": _age_hours(newest.time, now),
        "fresh": now - newest.time <= rpo,
    }


def _groups(observation: Observation, now: datetime, rpo: timedelta) -> dict[str, dict[str, Any]]:
    by_group: dict[str, list[Backup]] = {group: [] for group in observation.expected_groups}
    for backup in observation.backups:
        by_group.setdefault(backup.group, []).append(backup)
    return {group: _group_summary(backups, now, rpo) for group, backups in sorted(by_group.items())}


def _repository_summary(observation: Observation, now: datetime, rpo: timedelta) -> dict[str, Any]:
    groups = _groups(observation, now, rpo)
    checks = {
        check.kind: {
            "exit_code": check.exit_code,
            "status": check.status,
            "messages": list(check.messages),
            "scope": check.scope,
            "reads_data": check.reads_data,
            "packs_read": check.packs_read,
            "ran_at": _iso(check.ran_at),
        }
        for check in observation.checks
    }
    newest = max((backup.time for backup in observation.backups), default=None)
    checks_pass = all(check.status == "ok" for check in observation.checks)
    return {
        "type": observation.type,
        "location": observation.location,
        "mode": observation.mode,
        "sources": dict(observation.sources),
        "backup_count": len(observation.backups),
        "newest_backup": _iso(newest),
        "groups": groups,
        "checks": checks,
        "stats": dict(observation.stats.detail) if observation.stats else None,
        # A repository whose check fails is not a copy anyone should count on for PHY-3.
        "holds_recent_backup": checks_pass and any(group["fresh"] for group in groups.values()),
    }


def _data_check(
    observation: Observation, previous: Mapping[str, Any] | None, now: datetime, interval: timedelta
) -> dict[str, Any] | None:
    """When the data of a repository was last read back by a passing check: in this run, or
    as the previous run recorded it. ``None`` for locations without checks (S3 listings)."""
    if not observation.checks:
        return None
    passed = [c for c in observation.checks if c.status == "ok" and c.reads_data and c.ran_at]
    newest = max(passed, key=lambda c: c.ran_at or now, default=None)
    last_at: datetime | None = newest.ran_at if newest else None
    scope = newest.scope if newest else None
    seen_in = "this run" if newest else None
    earlier = (previous or {}).get("data_check") or {}
    if earlier.get("last_at"):
        earlier_at = datetime.fromisoformat(earlier["last_at"])
        if last_at is None or earlier_at > last_at:
            last_at, scope, seen_in = earlier_at, earlier.get("scope"), "an earlier run"
    return {
        "last_at": _iso(last_at),
        "scope": scope,
        "seen_in": seen_in,
        "structural_only_this_run": not any(c.reads_data for c in observation.checks),
        "due": _iso(last_at + interval) if last_at else None,
        "overdue": last_at is None or now - last_at > interval,
    }


def _data_check_finding(
    name: str, summary: Mapping[str, Any], restore: Mapping[str, Any], interval: timedelta, now: datetime
) -> list[FindingDraft]:
    data_check = summary.get("data_check")
    if data_check is None or not data_check["overdue"]:
        return []
    if any(check["status"] != "ok" for check in summary["checks"].values()):
        return []  # a failed check is reported as such, and already fails the requirement
    restore_at = restore.get("newest")
    if restore_at is not None and now - datetime.fromisoformat(restore_at) <= interval:
        return []  # a restore test within the interval proves the data can be read back
    days = interval.days
    ran = ", ".join(f"{kind} ({check['scope']}, {check['status']})" for kind, check in summary["checks"].items())
    last = data_check["last_at"]
    when = (
        f"The last check that read the data back ran {last}."
        if last
        else ("No check that reads the data back has been seen for this repository.")
    )
    how = (
        "restic check --read-data or --read-data-subset" if summary["type"] == "restic" else "borg check --verify-data"
    )
    return [
        FindingDraft(
            key=f"data-not-verified:{name}",
            title=f"Only structural checks of {name}: its data was not read back in the last {days} days",
            severity=Severity.high,
            detail=(
                f"Checks this run: {ran}. A structural check proves the repository's index and "
                f"trees are consistent, not that the backed-up data can be read back. {when} "
                f"BCM-1 needs a data-reading check ({how}) or a restore test at least every "
                f"{days} days."
            ),
            subject=name,
        )
    ]


def _stale_findings(name: str, summary: Mapping[str, Any], rpo_hours: float) -> list[FindingDraft]:
    if not summary["groups"]:
        return [
            FindingDraft(
                key=f"backup-stale:{name}",
                title=f"No backup at all in {name}",
                severity=Severity.high,
                detail=f"The {summary['type']} repository {name} ({summary['location']}) holds no backup.",
                subject=name,
            )
        ]
    findings = []
    for group, info in summary["groups"].items():
        if info["fresh"]:
            continue
        if info["newest"] is None:
            detail = f"No backup found under {group!r}; the recovery point objective is {rpo_hours:g} h."
        else:
            detail = (
                f"Newest backup {info['newest_label']!r} was made {info['newest']} "
                f"({info['age_hours']:g} h ago); the recovery point objective is {rpo_hours:g} h."
            )
        findings.append(
            FindingDraft(
                key=f"backup-stale:{name}:{group}",
                title=f"Backup of {group} in {name} is older than the RPO",
                severity=Severity.high,
                detail=detail,
                subject=f"{name}:{group}",
            )
        )
    return findings


def _check_findings(name: str, summary: Mapping[str, Any]) -> list[FindingDraft]:
    findings = []
    for kind, check in summary["checks"].items():
        if check["status"] == "ok":
            continue
        data_errors = check["status"] == "data-errors"
        problem = "reports data errors" if data_errors else "failed"
        messages = "\n".join(check["messages"]) or "(no output)"
        findings.append(
            FindingDraft(
                key=f"check-failed:{name}:{kind}",
                title=f"{summary['type']} {kind} of {name} {problem}",
                severity=Severity.critical if data_errors else Severity.high,
                detail=f"Exit code {check['exit_code']}.\n{messages}",
                subject=name,
            )
        )
    return findings


def _locations(repositories: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    locations: dict[str, dict[str, Any]] = {}
    for name, summary in sorted(repositories.items()):
        entry = locations.setdefault(summary["location"], {"repositories": [], "recent_backup": False})
        entry["repositories"].append(name)
        entry["recent_backup"] = entry["recent_backup"] or summary["holds_recent_backup"]
    return dict(sorted(locations.items()))


def _location_findings(locations: Mapping[str, Mapping[str, Any]], minimum: int) -> list[FindingDraft]:
    recent = [name for name, info in locations.items() if info["recent_backup"]]
    if len(recent) >= minimum:
        return []
    without = [name for name, info in locations.items() if not info["recent_backup"]]
    return [
        FindingDraft(
            key="too-few-locations",
            title=f"Recent backups at {len(recent)} location(s); at least {minimum} required",
            severity=Severity.high,
            detail=(
                f"Locations holding a backup within the RPO with passing checks: {', '.join(recent) or 'none'}. "
                f"Locations without: {', '.join(without) or 'none'}."
            ),
            subject="PHY-3",
        )
    ]


def _restore_test(restore_test_at: datetime | None, now: datetime, interval: timedelta) -> dict[str, Any]:
    return {
        "newest": _iso(restore_test_at),
        "due": _iso(restore_test_at + interval) if restore_test_at else None,
        "overdue": restore_test_at is None or now - restore_test_at > interval,
    }


def _restore_finding(restore: Mapping[str, Any], interval_days: int) -> list[FindingDraft]:
    if not restore["overdue"]:
        return []
    if restore["newest"] is None:
        detail = f"No restore test evidence ({RESTORE_TEST_REQUIREMENT}) has been uploaded."
    else:
        detail = f"The newest restore test evidence is from {restore['newest']}; it was due again by {restore['due']}."
    return [
        FindingDraft(
            key="restore-test-overdue",
            title=f"No restore test in the last {interval_days} days",
            severity=Severity.medium,
            detail=detail,
            subject=RESTORE_TEST_REQUIREMENT,
        )
    ]


def assess(
    observations: Sequence[Observation],
    policy: Policy,
    now: datetime,
    restore_test_at: datetime | None,
    previous: Mapping[str, Any] | None = None,
) -> Assessment:
    now = utc(now)
    rpo_hours = policy.rpo.total_seconds() / 3600
    interval_days = policy.restore_test_interval.days
    previous_repositories = (previous or {}).get("repositories") or {}
    repositories = {}
    for obs in observations:
        summary = _repository_summary(obs, now, policy.rpo)
        summary["data_check"] = _data_check(
            obs, previous_repositories.get(obs.repository), now, policy.data_check_interval
        )
        repositories[obs.repository] = summary
    locations = _locations(repositories)
    restore = _restore_test(restore_test_at, now, policy.restore_test_interval)
    findings: list[FindingDraft] = []
    for name, summary in repositories.items():
        findings += _stale_findings(name, summary, rpo_hours)
        findings += _check_findings(name, summary)
        findings += _data_check_finding(name, summary, restore, policy.data_check_interval, now)
    findings += _location_findings(locations, policy.minimum_locations)
    findings += _restore_finding(restore, interval_days)
    normalised = {
        "checked_at": now.isoformat(),
        "rpo_hours": rpo_hours,
        "restore_test_days": interval_days,
        "minimum_locations": policy.minimum_locations,
        "data_check_days": policy.data_check_interval.days,
        "repositories": repositories,
        "locations": locations,
        "locations_with_recent_backup": [name for name, info in locations.items() if info["recent_backup"]],
        "restore_test": restore,
        "findings": {finding.key: {"severity": finding.severity.value, "title": finding.title} for finding in findings},
    }
    return Assessment(normalised=normalised, findings=findings)


@dataclass(frozen=True)
class Change:
    subject: str
    description: str


def _repository_changes(name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = []
    if before.get("location") != after["location"]:
        changes.append(Change(name, f"location changed from {before.get('location')} to {after['location']}"))
    old_groups = before.get("groups") or {}
    for group, info in after["groups"].items():
        old = old_groups.get(group)
        if old is None:
            changes.append(Change(f"{name}:{group}", f"new backup group with {info['count']} backup(s)"))
        elif old.get("newest") != info["newest"]:
            changes.append(
                Change(
                    f"{name}:{group}",
                    f"newest backup {old.get('newest') or 'none'} → {info['newest'] or 'none'} "
                    f"({old.get('count', 0)} → {info['count']} backups)",
                )
            )
    for group in sorted(set(old_groups) - set(after["groups"])):
        changes.append(Change(f"{name}:{group}", "backup group no longer present"))
    old_checks = before.get("checks") or {}
    for kind, check in after["checks"].items():
        old_status = (old_checks.get(kind) or {}).get("status")
        if old_status != check["status"]:
            changes.append(Change(name, f"{kind}: {old_status or 'not run'} → {check['status']}"))
    return changes


def _finding_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = []
    for key, finding in after.items():
        old = before.get(key)
        if old is None:
            changes.append(Change(key, f"new finding ({finding['severity']}): {finding['title']}"))
        elif old.get("severity") != finding["severity"]:
            changes.append(Change(key, f"severity {old.get('severity')} → {finding['severity']}"))
    for key in sorted(set(before) - set(after)):
        changes.append(Change(key, f"resolved: {before[key].get('title', key)}"))
    return changes


def diff(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[Change] | None:
    """What changed since the previous run's normalised summary; ``None`` on a first run."""
    if previous is None:
        return None
    changes: list[Change] = []
    old_repositories = previous.get("repositories") or {}
    for name, summary in current["repositories"].items():
        if name not in old_repositories:
            changes.append(Change(name, f"repository added ({summary['type']}, {summary['location']})"))
        else:
            changes += _repository_changes(name, old_repositories[name], summary)
    for name in sorted(set(old_repositories) - set(current["repositories"])):
        changes.append(Change(name, "repository no longer configured"))
    old_recent = set(previous.get("locations_with_recent_backup") or [])
    new_recent = set(current["locations_with_recent_backup"])
    for location in sorted(new_recent - old_recent):
        changes.append(Change(location, "location now holds a recent backup"))
    for location in sorted(old_recent - new_recent):
        changes.append(Change(location, "location no longer holds a recent backup"))
    old_restore = (previous.get("restore_test") or {}).get("newest")
    if old_restore != current["restore_test"]["newest"]:
        changes.append(
            Change(
                "restore test",
                f"newest restore test {old_restore or 'none'} → {current['restore_test']['newest']}",
            )
        )
    changes += _finding_changes(previous.get("findings") or {}, current["findings"])
    return changes
