"""Comparing a system's effective password settings with the organisation's standard. Pure."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from collectors.base import FindingDraft, Severity
from collectors.password_policy.config import Standard
from collectors.password_policy.parsers import UNTIL_UNLOCKED, Settings

NOT_OFFERED = "not offered"


def _finding(system: str, setting: str, severity: Severity, title: str, detail: str) -> FindingDraft:
    return FindingDraft(
        key=f"password-policy:{system}:{setting}",
        title=f"{title} ({system})",
        severity=severity,
        detail=detail,
        subject=system,
    )


def compare(system: str, settings: Settings, standard: Standard) -> tuple[dict[str, Any], list[FindingDraft]]:
    findings: list[FindingDraft] = []
    sources = settings.sources

    def where(name: str) -> str:
        return sources.get(name, "not found")

    if settings.min_length is None or settings.min_length < standard.min_length:
        findings.append(
            _finding(
                system,
                "min_length",
                Severity.high,
                f"Minimum password length {settings.min_length or 'not enforced'}, standard {standard.min_length}",
                f"Effective value from {where('min_length')}.",
            )
        )
    if standard.history is not None and (settings.history or 0) < standard.history:
        findings.append(
            _finding(
                system,
                "history",
                Severity.medium,
                f"Password history {settings.history or 'not kept'}, standard {standard.history}",
                f"Effective value from {where('history')}.",
            )
        )
    lockout_offered = not where("lockout_threshold").startswith(NOT_OFFERED)
    if standard.lockout_threshold is not None and lockout_offered:
        if settings.lockout_threshold is None:
            findings.append(
                _finding(
                    system,
                    "lockout",
                    Severity.high,
                    "No account lockout after failed log-ons",
                    f"{where('lockout_threshold')}; the standard locks after {standard.lockout_threshold} failures.",
                )
            )
        elif settings.lockout_threshold > standard.lockout_threshold:
            findings.append(
                _finding(
                    system,
                    "lockout",
                    Severity.medium,
                    f"Lockout after {settings.lockout_threshold} failures, standard {standard.lockout_threshold}",
                    f"Effective value from {where('lockout_threshold')}.",
                )
            )
        elif (
            standard.lockout_minutes is not None
            and settings.lockout_minutes is not None
            and settings.lockout_minutes != UNTIL_UNLOCKED
            and settings.lockout_minutes < standard.lockout_minutes
        ):
            findings.append(
                _finding(
                    system,
                    "lockout_minutes",
                    Severity.low,
                    f"Accounts unlock after {settings.lockout_minutes} minutes, standard {standard.lockout_minutes}",
                    f"Effective value from {where('lockout_minutes')}.",
                )
            )
    if standard.max_age_days is not None and (
        settings.max_age_days is None or settings.max_age_days > standard.max_age_days
    ):
        findings.append(
            _finding(
                system,
                "max_age",
                Severity.low,
                f"Passwords expire after {settings.max_age_days or 'never'} days, standard {standard.max_age_days}",
                f"Effective value from {where('max_age_days')}.",
            )
        )
    if standard.min_classes is not None and (settings.min_classes or 0) < standard.min_classes:
        findings.append(
            _finding(
                system,
                "min_classes",
                Severity.medium,
                f"{settings.min_classes or 'No'} character classes required, standard {standard.min_classes}",
                f"Effective value from {where('min_classes')}.",
            )
        )
    summary = asdict(settings)
    summary["deviations"] = [f.key.rsplit(":", 1)[1] for f in findings]
    return summary, findings
