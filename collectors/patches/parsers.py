"""Pure parsers for apt, dpkg, unattended-upgrades and Get-HotFix output. They take decoded
text and raise :class:`ParseError` (with a line number) on anything they do not recognise, so a
truncated or foreign file fails loudly instead of yielding a silently short result."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from collectors.patches.models import (
    AptTransaction,
    DpkgAction,
    DpkgEvent,
    HotFix,
    PackageActionKind,
    PackageChange,
    ParseError,
    PendingUpdate,
    UnattendedRun,
)

_HISTORY_ACTIONS: dict[str, PackageActionKind] = {
    "Install": "install",
    "Upgrade": "upgrade",
    "Downgrade": "downgrade",
    "Reinstall": "reinstall",
    "Remove": "remove",
    "Purge": "purge",
}
_PACKAGE_ITEM = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9.+~-]*)(?::(?P<arch>[A-Za-z0-9-]+))? \((?P<inner>[^()]*)\)")


def _parse_history_date(value: str, line: int) -> datetime:
    try:
        # apt writes two spaces between date and time
        return datetime.strptime(" ".join(value.split()), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ParseError(f"invalid date {value!r}", line) from None


def _parse_package_list(action: str, value: str, line: int) -> list[PackageChange]:
    changes: list[PackageChange] = []
    position = 0
    for match in _PACKAGE_ITEM.finditer(value):
        separator = value[position : match.start()]
        if separator not in ("", ", ") or (separator == "" and changes):
            break
        changes.append(_package_change(action, match, line))
        position = match.end()
    if position != len(value.rstrip()) or not changes:
        raise ParseError(f"cannot parse the {action} package list near {value[position:][:60]!r}", line)
    return changes


def _package_change(action: str, match: re.Match[str], line: int) -> PackageChange:
    parts = [part.strip() for part in match["inner"].split(",")]
    automatic = parts[-1] == "automatic"
    if automatic:
        parts = parts[:-1]
    kind = _HISTORY_ACTIONS[action]
    if kind in ("upgrade", "downgrade"):
        if len(parts) != 2:
            raise ParseError(f"{action} of {match['name']} needs old and new version", line)
        old, new = parts
    else:
        if len(parts) != 1:
            raise ParseError(f"{action} of {match['name']} needs one version", line)
        old, new = None, parts[0]
    return PackageChange(
        action=kind,
        package=match["name"],
        arch=match["arch"] or "",
        version=new,
        old_version=old,
        automatic=automatic,
    )


@dataclass
class _HistoryBlock:
    """A Start-Date ... End-Date block of the apt history as it is read."""

    started: datetime
    ended: datetime | None = None
    commandline: str = ""
    requested_by: str = ""
    changes: list[PackageChange] = field(default_factory=list)
    error: str = ""


def parse_apt_history(text: str) -> list[AptTransaction]:
    """Parse /var/log/apt/history.log. A block without End-Date (apt interrupted, or the log
    read while apt runs) is kept with ``ended=None``."""
    transactions: list[AptTransaction] = []
    block: _HistoryBlock | None = None

    def close() -> None:
        if block is not None:
            transactions.append(
                AptTransaction(
                    started=block.started,
                    ended=block.ended,
                    commandline=block.commandline,
                    requested_by=block.requested_by,
                    changes=tuple(block.changes),
                    error=block.error,
                )
            )

    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.rstrip()
        if not line:
            continue
        key, separator, value = line.partition(": ")
        if not separator:
            raise ParseError(f"expected 'Key: value', got {line[:60]!r}", number)
        if key == "Start-Date":
            close()
            block = _HistoryBlock(started=_parse_history_date(value, number))
            continue
        if block is None:
            raise ParseError(f"{key} before any Start-Date", number)
        if key == "End-Date":
            block.ended = _parse_history_date(value, number)
        elif key == "Commandline":
            block.commandline = value
        elif key == "Requested-By":
            block.requested_by = value
        elif key == "Error":
            block.error = value
        elif key in _HISTORY_ACTIONS:
            block.changes.extend(_parse_package_list(key, value, number))
        # other keys are tolerated: newer apt versions may add fields we do not need
    close()
    return transactions


_DPKG_LINE = re.compile(r"^(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?P<kind>[a-z-]+) (?P<rest>.+)$")
_DPKG_CHANGE_KINDS = ("install", "upgrade", "remove", "purge")


def parse_dpkg_log(text: str) -> list[DpkgEvent]:
    """Parse /var/log/dpkg.log, keeping the package changes (install, upgrade, remove, purge);
    status, configure, trigproc, conffile and startup lines are checked but not kept."""
    events: list[DpkgEvent] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _DPKG_LINE.match(line)
        if match is None:
            raise ParseError(f"not a dpkg log line: {line[:60]!r}", number)
        try:
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise ParseError(f"invalid date {match['at']!r}", number) from None
        if match["kind"] in _DPKG_CHANGE_KINDS:
            events.append(_dpkg_event(at, match["kind"], match["rest"], number))
    return events


def _dpkg_event(at: datetime, kind: str, rest: str, line: int) -> DpkgEvent:
    fields = rest.split()
    if len(fields) != 3:
        raise ParseError(f"{kind} line needs package, old and new version: {rest[:60]!r}", line)
    package, _, arch = fields[0].partition(":")
    old, new = (None if value == "<none>" else value for value in fields[1:])
    return DpkgEvent(at=at, action=cast(DpkgAction, kind), package=package, arch=arch, old_version=old, new_version=new)


_APT_LIST_LINE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<archives>\S+) (?P<version>\S+) (?P<arch>\S+)"
    r" \[upgradable from: (?P<old>[^\]]+)\]$"
)
# apt prints these around the list; "N:"/"W:" notes appear when several versions exist.
_APT_LIST_NOISE = ("Listing...", "WARNING: apt does not have a stable CLI interface", "N: ", "W: ")


def parse_apt_list_upgradable(text: str) -> list[PendingUpdate]:
    """Parse ``apt list --upgradable`` (run with LC_ALL=C). apt always prints ``Listing...``
    before the list, so input without it (empty, or cut off at the start) is not a list of
    nothing but an error."""
    updates: list[PendingUpdate] = []
    if not any(line.startswith("Listing...") for line in text.splitlines()[:3]):
        raise ParseError(
            "no 'Listing...' header: apt list --upgradable always prints it, so the output is empty or incomplete"
        )
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip()
        if not line or line.startswith(_APT_LIST_NOISE):
            continue
        match = _APT_LIST_LINE.match(line)
        if match is None:
            raise ParseError(f"not an 'apt list --upgradable' line: {line[:60]!r}", number)
        updates.append(
            PendingUpdate(
                package=match["name"],
                version=match["version"],
                current_version=match["old"],
                arch=match["arch"],
                archives=tuple(match["archives"].split(",")),
            )
        )
    return updates


_INST_LINE = re.compile(
    r"^Inst (?P<name>\S+) (?:\[(?P<old>[^\]]*)\] )?\((?P<version>\S+) (?P<origins>.+) "
    r"\[(?P<arch>[^\]]+)\]\)(?: \[.*\])?$"
)


_APT_SUMMARY = re.compile(
    r"^(?P<upgraded>\d+) upgraded, (?P<installed>\d+) newly installed, "
    r"(?P<removed>\d+) to remove and (?P<held>\d+) not upgraded\.$"
)


def parse_apt_get_simulate(text: str) -> list[PendingUpdate]:
    """Parse ``apt-get -s upgrade`` (or dist-upgrade) output: the ``Inst`` lines. apt repeats
    an Inst line when it unpacks a package twice, so packages are de-duplicated.

    apt prints a summary ("N upgraded, M newly installed, ...") before the Inst lines; the
    packages read must add up to it. Output without the summary, or with fewer Inst lines than
    it announces, was cut off and raises :class:`ParseError`: it must never read as "nothing
    pending"."""
    updates: dict[str, PendingUpdate] = {}
    summary: re.Match[str] | None = None
    summary_line = 0
    removals: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("E: "):
            raise ParseError(f"apt-get reported an error: {line[3:][:120]}", number)
        if summary is None and (match := _APT_SUMMARY.match(line.rstrip())):
            summary, summary_line = match, number
            continue
        if line.startswith("Remv "):
            removals.add(line.split()[1] if len(line.split()) > 1 else line)
            continue
        if not line.startswith("Inst "):
            continue
        match = _INST_LINE.match(line.rstrip())
        if match is None:
            raise ParseError(f"cannot parse Inst line: {line[:80]!r}", number)
        archives = tuple(origin.strip().rpartition("/")[2] for origin in match["origins"].split(","))
        updates.setdefault(
            match["name"],
            PendingUpdate(
                package=match["name"],
                version=match["version"],
                current_version=match["old"],
                arch=match["arch"],
                archives=archives,
            ),
        )
    _check_simulate_summary(summary, summary_line, len(updates), len(removals), text)
    return list(updates.values())


def _check_simulate_summary(summary: re.Match[str] | None, line: int, packages: int, removals: int, text: str) -> None:
    last = len(text.splitlines())
    if summary is None:
        raise ParseError(
            "no 'N upgraded, M newly installed, ...' summary: the apt-get -s output is empty or "
            f"was cut off (input ends at line {last})"
        )
    announced = int(summary["upgraded"]) + int(summary["installed"])
    if packages != announced:
        raise ParseError(
            f"the summary on line {line} announces {announced} package(s) to install or upgrade "
            f"but {packages} Inst line(s) follow: the output was cut off (input ends at line {last})"
        )
    if removals != int(summary["removed"]):
        raise ParseError(
            f"the summary on line {line} announces {summary['removed']} removal(s) but "
            f"{removals} Remv line(s) follow: the output was cut off (input ends at line {last})"
        )


_UU_LINE = re.compile(r"^(?P<at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),\d{3} (?P<level>[A-Z]+) (?P<message>.*)$")


def _unattended_records(text: str) -> Iterable[tuple[int, datetime, str, str]]:
    """Yield (line, time, level, message); lines without a timestamp continue the previous
    message (tracebacks and multi-line dpkg errors)."""
    current: tuple[int, datetime, str, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _UU_LINE.match(line)
        if match is None:
            if current is None:
                if not line.strip():
                    continue
                raise ParseError(f"not an unattended-upgrades log line: {line[:60]!r}", number)
            current = (current[0], current[1], current[2], f"{current[3]}\n{line}")
            continue
        if current is not None:
            yield current
        try:
            at = datetime.strptime(match["at"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise ParseError(f"invalid date {match['at']!r}", number) from None
        current = (number, at, match["level"], match["message"])
    if current is not None:
        yield current


def parse_unattended_upgrades_log(text: str) -> list[UnattendedRun]:
    """Parse /var/log/unattended-upgrades/unattended-upgrades.log into runs."""
    runs: list[UnattendedRun] = []
    preamble_run = False
    for _line, at, level, message in _unattended_records(text):
        if message.startswith("Starting unattended upgrades script"):
            if preamble_run:
                preamble_run = False
            else:
                runs.append(UnattendedRun(started=at))
            continue
        if not runs:
            # the script logs a few lines (e.g. the battery check) before "Starting"; at the top
            # of the file they belong to the run that is about to start
            runs.append(UnattendedRun(started=at))
            preamble_run = True
        _apply_unattended_message(runs[-1], level, message)
    return runs


def _apply_unattended_message(run: UnattendedRun, level: str, message: str) -> None:
    if message.startswith("Option --dry-run given"):
        run.dry_run = True
    elif message.startswith("Packages that will be upgraded:"):
        run.packages = message.partition(":")[2].split()
    elif message.startswith("All upgrades installed"):
        run.outcome = "installed"
    elif message.startswith("No packages found that can be upgraded unattended"):
        run.outcome = "nothing-to-do"
    elif level in ("ERROR", "CRITICAL"):
        run.outcome = "failed"
        run.errors.append(message.splitlines()[0])


DEFAULT_HOTFIX_DATE_FORMATS: tuple[str, ...] = (
    "%m/%d/%Y %I:%M:%S %p",  # en-US, what PowerShell 5.1 writes on an English system
    "%m/%d/%Y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
)
_HOTFIX_REQUIRED = ("HotFixID", "Description", "InstalledBy", "InstalledOn")


def parse_hotfix_csv(text: str, date_formats: Sequence[str] = DEFAULT_HOTFIX_DATE_FORMATS) -> list[HotFix]:
    """Parse ``Get-HotFix | ConvertTo-Csv -NoTypeInformation``. InstalledOn is written in the
    culture of the Windows host, hence the configurable ``date_formats``."""
    lines = text.lstrip("\ufeff").splitlines()
    if lines and lines[0].startswith("#TYPE"):
        lines = lines[1:]  # ConvertTo-Csv without -NoTypeInformation
    if not any(line.strip() for line in lines):
        return []
    reader = csv.DictReader(io.StringIO("\n".join(lines)), strict=True)
    missing = [column for column in _HOTFIX_REQUIRED if column not in (reader.fieldnames or [])]
    if missing:
        raise ParseError(f"not Get-HotFix CSV: missing column(s) {', '.join(missing)}", 1)
    hotfixes: list[HotFix] = []
    try:
        for row in reader:
            hotfixes.append(_hotfix(row, reader.line_num, date_formats))
    except csv.Error as error:
        raise ParseError(f"malformed CSV after line {reader.line_num}: {error}") from None
    return hotfixes


def _hotfix(row: dict[str, str | None], line: int, date_formats: Sequence[str]) -> HotFix:
    if None in row or any(row.get(column) is None for column in _HOTFIX_REQUIRED):
        raise ParseError("row has a different number of fields than the header", line)
    installed_on = (row["InstalledOn"] or "").strip()
    return HotFix(
        hotfix_id=(row["HotFixID"] or "").strip(),
        description=(row["Description"] or "").strip(),
        installed_on=_parse_hotfix_date(installed_on, line, date_formats) if installed_on else None,
        installed_by=(row["InstalledBy"] or "").strip(),
        computer=(row.get("CSName") or row.get("PSComputerName") or "").strip(),
    )


def _parse_hotfix_date(value: str, line: int, date_formats: Sequence[str]) -> datetime:
    for date_format in date_formats:
        try:
            return datetime.strptime(value, date_format)
        except ValueError:
            continue
    raise ParseError(f"InstalledOn {value!r} matches none of the date formats {list(date_formats)}", line)
