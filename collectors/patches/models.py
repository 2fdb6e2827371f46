"""Typed records the patch parsers produce. Times read from logs are naive: they are the
host's local wall-clock time, and only the collector knows the host's time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PackageActionKind = Literal["install", "upgrade", "downgrade", "reinstall", "remove", "purge"]


class ParseError(ValueError):
    """Input that is not in the format the parser expects. ``line`` is 1-based, 0 when the
    problem is not tied to one line."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class PackageChange:
    action: PackageActionKind
    package: str
    arch: str
    version: str
    old_version: str | None = None
    automatic: bool = False


@dataclass(frozen=True)
class AptTransaction:
    """One Start-Date ... End-Date block of /var/log/apt/history.log."""

    started: datetime
    ended: datetime | None
    commandline: str
    requested_by: str
    changes: tuple[PackageChange, ...]
    error: str = ""

    @property
    def simulated(self) -> bool:
        # unattended-upgrade --dry-run writes history entries although nothing is installed
        # (seen on Debian 12 with unattended-upgrades 2.9.1); they must not count as patching.
        return "--dry-run" in self.commandline.split()


DpkgAction = Literal["install", "upgrade", "remove", "purge"]


@dataclass(frozen=True)
class DpkgEvent:
    """An install/upgrade/remove/purge line of /var/log/dpkg.log."""

    at: datetime
    action: DpkgAction
    package: str
    arch: str
    old_version: str | None
    new_version: str | None


@dataclass(frozen=True)
class PendingUpdate:
    package: str
    version: str
    current_version: str | None
    arch: str
    archives: tuple[str, ...]

    @property
    def security(self) -> bool:
        return any("-security" in archive for archive in self.archives)


@dataclass
class UnattendedRun:
    """One run of unattended-upgrade, from "Starting unattended upgrades script" onwards."""

    started: datetime
    dry_run: bool = False
    packages: list[str] = field(default_factory=list)
    outcome: Literal["installed", "nothing-to-do", "failed", "unknown"] = "unknown"
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HotFix:
    """One row of ``Get-HotFix | ConvertTo-Csv``."""

    hotfix_id: str
    description: str
    installed_on: datetime | None
    installed_by: str
    computer: str

    @property
    def security(self) -> bool:
        return self.description.strip().lower() == "security update"
